/** Clinical terms and the record's imaging lines (pure logic of the client). */
import { clinicianUnit, loincKey, unitForCode } from '../../../client/src/lib/clinical-terms';
import { readSummary } from '../../../client/src/lib/fhir-view';
import { en } from '../../../client/src/i18n/en';
import { vi } from '../../../client/src/i18n/vi';
import { errorKey } from '../../../client/src/lib/errors';

class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

test('UCUM units are written as clinicians write them', () => {
  expect(clinicianUnit('Cel', 'Cel')).toEqual({ symbol: '°C' });
  expect(clinicianUnit('10*3/uL', '10*3/uL')).toEqual({ symbol: '×10⁹/L' });
  expect(clinicianUnit('mm[Hg]', 'mmHg')).toEqual({ symbol: 'mmHg' });
  expect(clinicianUnit('kg/m2')).toEqual({ symbol: 'kg/m²' });
  expect(clinicianUnit('10*12/L')).toEqual({ symbol: '×10¹²/L' });
  expect(clinicianUnit('10*4/uL')).toEqual({ symbol: '×10⁴/µL' });
  expect(unitForCode(['8867-4'], '/min', 'beats/minute')).toEqual({ key: 'unit.beatsPerMinute' });
  expect(unitForCode(['9279-1'], '/min')).toEqual({ key: 'unit.breathsPerMinute' });
  expect(clinicianUnit('1', 'probability score')).toEqual({ symbol: 'probability score' });
  expect(clinicianUnit('1')).toBeNull();
});

test('common LOINC vitals and labs have Vietnamese and English names', () => {
  for (const code of ['8480-6', '8462-4', '8867-4', '8310-5', '59408-5', '29463-7', '2345-7', '4548-4', '6690-2', '718-7', '777-3', '2160-0']) {
    const key = loincKey([code]);
    expect(key).toBeDefined();
    expect(vi[key!]).not.toBe(en[key!] === 'HbA1c' ? '' : en[key!]);
  }
  expect(loincKey(['0000-0'])).toBeUndefined();
});

test('server error codes map to catalogue keys; the server message is never the text', () => {
  expect(errorKey(new ApiRequestError(403, 'forbidden', 'You do not take part in this consult (read consult)'))).toBe('error.forbidden');
  expect(errorKey(new ApiRequestError(422, 'image_truncated', 'The image could not be read'))).toBe('error.image');
  expect(errorKey(new ApiRequestError(409, 'invalid_transition', 'Cannot accept'))).toBe('error.invalid_transition');
  expect(errorKey(new ApiRequestError(418, 'teapot', 'x'))).toBe('error.invalid');
  expect(errorKey(new ApiRequestError(0, 'client', 'Failed to fetch'))).toBe('error.network');
  expect(errorKey(new ApiRequestError(503, 'whatever', 'down'))).toBe('error.unavailable');
});

test('an X-ray with its AI results is one imaging line; vitals keep their place', () => {
  const bundle = {
    resourceType: 'Bundle',
    type: 'document',
    entry: [
      { resource: { resourceType: 'Patient', id: 'p', name: [{ text: 'Hoa' }] } },
      {
        resource: {
          resourceType: 'Observation',
          id: 'v',
          status: 'final',
          category: [{ coding: [{ code: 'vital-signs' }] }],
          code: { coding: [{ system: 'http://loinc.org', code: '8310-5' }] },
          effectiveDateTime: '2026-11-01',
          valueQuantity: { value: 37.9, unit: 'Cel', code: 'Cel' },
        },
      },
      { resource: { resourceType: 'ImagingStudy', id: 's1', modality: [{ code: 'DX' }], description: 'Chest X-ray', started: '2026-12-01' } },
      {
        resource: {
          resourceType: 'Observation',
          id: 'a1',
          status: 'final',
          meta: { tag: [{ system: 'http://hoichan.vn/tags', code: 'ai-triage' }] },
          category: [{ coding: [{ code: 'imaging' }] }],
          code: { text: 'AI tuberculosis lesion score' },
          valueQuantity: { value: 0.91, code: '1' },
          interpretation: [{ coding: [{ code: 'POS' }] }],
          derivedFrom: [{ reference: 'ImagingStudy/s1' }],
          effectiveDateTime: '2026-12-01',
        },
      },
      {
        resource: {
          resourceType: 'Observation',
          id: 'a2',
          status: 'preliminary',
          meta: { tag: [{ system: 'http://hoichan.vn/tags', code: 'ai-triage' }] },
          category: [{ coding: [{ code: 'imaging' }] }],
          code: { text: 'AI lung nodule score' },
          valueQuantity: { value: 0.1, code: '1' },
          interpretation: [{ coding: [{ code: 'NEG' }] }],
          derivedFrom: [{ reference: 'ImagingStudy/s1' }],
          effectiveDateTime: '2026-12-01',
        },
      },
      {
        resource: {
          resourceType: 'DiagnosticReport',
          id: 'r1',
          status: 'preliminary',
          meta: { tag: [{ system: 'http://hoichan.vn/tags', code: 'ai-triage' }] },
          category: [{ coding: [{ code: 'RAD' }] }],
          code: { text: 'AI chest X-ray triage' },
          imagingStudy: [{ reference: 'ImagingStudy/s1' }],
          effectiveDateTime: '2026-12-01',
        },
      },
    ],
  };
  const view = readSummary(bundle as never);
  const imaging = view.items.filter((i) => i.section === 'imaging');
  expect(imaging).toHaveLength(1);
  expect(imaging[0]).toMatchObject({
    chestXray: true,
    aiResults: [
      { finding: 'tb', score: 0.91, flagged: true, review: 'confirmed' },
      { finding: 'nodule', flagged: false, review: 'awaiting' },
    ],
  });
  expect(view.items.find((i) => i.section === 'vitals')).toMatchObject({ codes: ['8310-5'], quantity: { value: 37.9, ucum: 'Cel' } });
});
