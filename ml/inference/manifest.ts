/**
 * ml/weights/manifest.json: schema validation and integrity checks of the ONNX files it lists.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { GATE_FILE, parseGateModel, type GateModel } from './input-gate';

export const MANIFEST_FILE = 'manifest.json';
export const FINDINGS = ['tb', 'nodule'] as const;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/i, 'must be a hex sha256');
const probability = z.number().min(0).max(1);

const modelEntrySchema = z.looseObject({
  name: z.string().min(1),
  finding: z.enum(FINDINGS),
  file: z
    .string()
    .min(1)
    .refine((f) => path.basename(f) === f && f !== '.' && f !== '..', 'must be a file name inside the weights folder'),
  version: z.string().min(1),
  sha256: sha256Hex,
  outputs: z.object({ score: z.string().min(1), heatmap: z.string().min(1) }),
  heatmapStride: z.number().int().positive(),
  thresholds: z.object({ flag: probability, box: probability }),
  /**
   * Optional calibration of the image score (ml/calibration/calibrate.ts): the score shown is
   * σ(a · logit(raw) + b), and `flag` (in that calibrated space) replaces thresholds.flag.
   */
  calibration: z
    .object({
      method: z.literal('platt'),
      a: z.number(),
      b: z.number(),
      /* zod 4: z.number() already refuses Infinity */ flag: probability,
      report: z.string().optional(),
    })
    .optional(),
});

export const manifestSchema = z
  .looseObject({
    schema: z.literal(1),
    version: z.string().min(1).optional(),
    input: z.looseObject({ name: z.string().min(1).optional() }),
    models: z.array(modelEntrySchema).min(1),
    report: z.string(),
  })
  .superRefine((m, ctx) => {
    for (const finding of FINDINGS) {
      const count = m.models.filter((e) => e.finding === finding).length;
      if (count !== 1) {
        ctx.addIssue({ code: 'custom', path: ['models'], message: `needs exactly one "${finding}" model, found ${count}` });
      }
    }
  });

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestModel = z.infer<typeof modelEntrySchema>;

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
}

export interface LoadedModel {
  readonly entry: ManifestModel;
  readonly path: string;
  /** The verified file contents: sessions are created from these bytes, not by re-reading the file. */
  readonly bytes: Uint8Array;
}

/** The input gate's pixel model (GATE_FILE beside the manifest), or null when the folder has none (then only DICOM tags gate). */
async function loadGate(dir: string): Promise<GateModel | null> {
  const file = path.join(dir, GATE_FILE);
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch {
    return null;
  }
  try {
    return { ...parseGateModel(JSON.parse(raw.toString('utf8'))), sha256: sha256(raw) };
  } catch (err) {
    throw new ManifestError(`${file} is not a valid input-gate model: ${(err as Error).message}`);
  }
}

export interface LoadedManifest {
  /** The input gate's pixel check (ml/weights/input-gate.json); null when absent. */
  gate: GateModel | null;
  readonly dir: string;
  readonly manifest: Manifest;
  /** sha256 of manifest.json as stored: the combined identity of the model set. */
  readonly manifestSha256: string;
  /** Manifest `version` when present, else the models' shared version, else `name@version` pairs. */
  readonly version: string;
  readonly models: readonly LoadedModel[];
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function parseManifest(json: unknown, source = MANIFEST_FILE): Manifest {
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ManifestError(`${source} is invalid: ${issues}`);
  }
  return parsed.data;
}

export function manifestVersion(manifest: Manifest): string {
  if (manifest.version) return manifest.version;
  const versions = new Set(manifest.models.map((m) => m.version));
  const [only] = versions;
  if (versions.size === 1 && only !== undefined) return only;
  return manifest.models.map((m) => `${m.name}@${m.version}`).join('+');
}

/** Reads and validates the manifest and refuses any ONNX file whose sha256 differs from it. */
export async function loadManifest(weightsDir: string): Promise<LoadedManifest> {
  const dir = path.resolve(weightsDir);
  const manifestPath = path.join(dir, MANIFEST_FILE);
  let raw: Buffer;
  try {
    raw = await readFile(manifestPath);
  } catch (err) {
    throw new ManifestError(`cannot read ${manifestPath}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new ManifestError(`${manifestPath} is not valid JSON: ${(err as Error).message}`);
  }
  const manifest = parseManifest(json, manifestPath);

  const models = await Promise.all(
    manifest.models.map(async (entry): Promise<LoadedModel> => {
      const file = path.join(dir, entry.file);
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (err) {
        throw new ManifestError(`cannot read model "${entry.name}" (${file}): ${(err as Error).message}`);
      }
      const actual = sha256(bytes);
      if (actual !== entry.sha256.toLowerCase()) {
        throw new ManifestError(
          `sha256 mismatch for model "${entry.name}" (${file}): manifest says ${entry.sha256.toLowerCase()}, file is ${actual}; refusing to load it`,
        );
      }
      return { entry, path: file, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    }),
  );
  return { dir, manifest, manifestSha256: sha256(raw), version: manifestVersion(manifest), models, gate: await loadGate(dir) };
}
