/**
 * Input gate: DICOM tag rules, and the shipped pixel check (ml/weights/input-gate.json) on real
 * images: every chest fixture is let through, the hip / leg / cervical-spine radiographs of the
 * DICOM fixtures are refused on their pixels alone (tags ignored), as are a chest X-ray upside down
 * and a non-radiograph image (a UI screenshot).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { decodeImage } from '../../../ml/decode';
import { chestProbability, decideGate, gateByTags, gateFeatures, GATE_FILE, NOT_FRONTAL_CHEST, parseGateModel } from '../../../ml/inference/input-gate';
import { preprocess } from '../../../ml/inference/preprocess';

const REPO = path.resolve(__dirname, '../../..');
const model = parseGateModel(JSON.parse(readFileSync(path.join(REPO, 'ml', 'weights', GATE_FILE), 'utf8')));
const CXR = path.join(REPO, 'test', 'fixtures', 'cxr');
const DICOM = path.join(REPO, 'test', 'fixtures', 'dicom');

async function planeOf(file: string) {
  const img = await decodeImage(readFileSync(file));
  return { img, plane: preprocess(img) };
}

describe('gateByTags', () => {
  it('accepts CR/DX CHEST PA/AP and refuses other modalities, body parts and views', () => {
    expect(gateByTags({ modality: 'DX', bodyPart: 'CHEST', viewPosition: 'PA' }).verdict).toBe('chest');
    expect(gateByTags({ modality: 'CR', bodyPart: 'chest', viewPosition: 'AP' }).verdict).toBe('chest');
    expect(gateByTags({ modality: 'CR', bodyPart: 'HIP' })).toEqual({ verdict: 'not-chest', reason: expect.stringContaining('HIP') });
    expect(gateByTags({ modality: 'MR' }).verdict).toBe('not-chest');
    expect(gateByTags({ modality: 'CR', bodyPart: 'CHEST', viewPosition: 'LL' }).verdict).toBe('not-chest');
    expect(gateByTags({ modality: 'CR' }).verdict).toBe('unknown');
    expect(gateByTags(undefined).verdict).toBe('unknown');
  });
});

describe('pixel check (shipped model)', () => {
  it('lets every chest X-ray fixture through', async () => {
    const files = readdirSync(CXR).filter((f) => f.endsWith('.png'));
    expect(files.length).toBeGreaterThanOrEqual(8);
    for (const f of files) {
      const { plane } = await planeOf(path.join(CXR, f));
      const p = chestProbability(model, gateFeatures(plane));
      expect({ f, pass: p >= model.threshold }).toEqual({ f, pass: true });
    }
  });

  it('refuses the non-chest radiographs on their pixels (tags ignored)', async () => {
    for (const f of ['12_RG2_RLE.dcm', '09_RG3_JPLL.dcm', '17_CR_6154_rescale.dcm']) {
      const { plane } = await planeOf(path.join(DICOM, f));
      const d = decideGate(model, plane, undefined);
      expect({ f, scored: d.scored, by: d.by }).toEqual({ f, scored: false, by: 'pixels' });
      expect(d.reason).toContain(NOT_FRONTAL_CHEST);
    }
  });

  it('refuses a chest X-ray upside down and a screenshot', async () => {
    const { plane } = await planeOf(path.join(CXR, 'tbx11k_tb0020.png'));
    const upsideDown = new Float32Array(plane.length);
    for (let y = 0; y < 512; y++) upsideDown.set(plane.subarray((511 - y) * 512, (512 - y) * 512), y * 512);
    expect(decideGate(model, plane, undefined).scored).toBe(true);
    expect(decideGate(model, upsideDown, undefined).scored).toBe(false);
    const shot = await planeOf(path.join(REPO, 'docs', 'screenshots', 'patient-record-vi.png'));
    expect(decideGate(model, shot.plane, undefined).scored).toBe(false);
  });

  it('the tags decide first: the hip DICOM is refused by its BodyPartExamined', async () => {
    const { img, plane } = await planeOf(path.join(DICOM, '12_RG2_RLE.dcm'));
    expect(img.dicom?.bodyPart).toBe('HIP');
    expect(decideGate(model, plane, img.dicom)).toMatchObject({ scored: false, by: 'dicom-tags', reason: expect.stringContaining('HIP') });
    const chest = await planeOf(path.join(DICOM, '03_gdcm-CR-MONO1-10-chest.dcm'));
    expect(decideGate(model, chest.plane, chest.img.dicom)).toMatchObject({ scored: true, by: 'dicom-tags' });
  });
});
