/**
 * ONNX sessions for the manifest's models and a typed run of one model on one input plane.
 * Used inside the triage worker and by the output-parity tests.
 */
import * as ort from 'onnxruntime-node';
import type { ManifestModel } from './manifest';
import type { Finding } from './postprocess';
import { MODEL_INPUT_DIMS, MODEL_INPUT_SIZE } from './preprocess';

export const DEFAULT_INPUT_NAME = 'image';

export interface ModelSpec {
  readonly entry: ManifestModel;
  readonly bytes: Uint8Array;
}

export interface ModelSession {
  readonly entry: ManifestModel;
  readonly finding: Finding;
  readonly session: ort.InferenceSession;
}

export interface ModelOutput {
  readonly score: number;
  /** grid×grid probabilities, row-major. */
  readonly heatmap: Float32Array;
  readonly grid: number;
}

/**
 * Parallelism comes from worker threads first: with as many workers as cores each session runs on
 * one intra-op thread (more would only fight over the cores). A worker that has cores to itself
 * (one worker on two cores) lets ORT split each convolution over them: the single-image latency.
 */
export const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
};

export function sessionOptions(intraOpThreads = 1): ort.InferenceSession.SessionOptions {
  if (intraOpThreads <= 1) return SESSION_OPTIONS;
  return {
    ...SESSION_OPTIONS,
    intraOpNumThreads: intraOpThreads,
    // Pool threads sleep between operators instead of spinning: on a shared 2-core machine a spinning
    // thread took the core the other worker, the event loop or the preview decode needed.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

export async function createModelSessions(specs: readonly ModelSpec[], intraOpThreads = 1): Promise<ModelSession[]> {
  const sessions: ModelSession[] = [];
  const options = sessionOptions(intraOpThreads);
  try {
    for (const spec of specs) {
      const session = await ort.InferenceSession.create(spec.bytes, options);
      sessions.push({ entry: spec.entry, finding: spec.entry.finding, session });
    }
  } catch (err) {
    await releaseModelSessions(sessions);
    throw err;
  }
  return sessions;
}

export async function releaseModelSessions(sessions: readonly ModelSession[]): Promise<void> {
  await Promise.allSettled(sessions.map((s) => s.session.release()));
}

/** Runs a model on one normalised 512×512 plane and checks the outputs' shapes against the contract. */
export async function runModel(model: ModelSession, plane: Float32Array, inputName = DEFAULT_INPUT_NAME): Promise<ModelOutput> {
  if (plane.length !== MODEL_INPUT_SIZE * MODEL_INPUT_SIZE) {
    throw new RangeError(`model input has ${plane.length} values, expected ${MODEL_INPUT_SIZE}²`);
  }
  const { score: scoreName, heatmap: heatmapName } = model.entry.outputs;
  const input = new ort.Tensor('float32', plane, [...MODEL_INPUT_DIMS]);
  const outputs = await model.session.run({ [inputName]: input }, [scoreName, heatmapName]);
  try {
    const score = floatData(outputs[scoreName], `${model.entry.name}.${scoreName}`);
    const heatmap = floatData(outputs[heatmapName], `${model.entry.name}.${heatmapName}`);
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- floatData() above threw unless this output exists with data; score.length === 1 is checked above
    const dims = outputs[heatmapName]!.dims;
    const grid = dims[dims.length - 1] ?? 0;
    const stride = model.entry.heatmapStride;
    if (score.length !== 1 || dims.length !== 4 || dims[2] !== grid || heatmap.length !== grid * grid || grid * stride !== MODEL_INPUT_SIZE) {
      throw new Error(
        `model "${model.entry.name}" returned score[${score.length}] and heatmap [${dims.join(',')}]; ` +
          `expected score [1] and heatmap [1,1,${MODEL_INPUT_SIZE / stride},${MODEL_INPUT_SIZE / stride}]`,
      );
    }
    // Copy out of ORT-owned memory so the values outlive the output tensors.
    // eslint-disable-next-line @typescript-eslint/no-non-null-assertion -- floatData() above threw unless this output exists with data; score.length === 1 is checked above
    return { score: score[0]!, heatmap: Float32Array.from(heatmap), grid };
  } finally {
    for (const t of Object.values(outputs)) t.dispose();
  }
}

function floatData(tensor: ort.Tensor | undefined, label: string): Float32Array {
  if (!tensor) throw new Error(`model output "${label}" is missing`);
  if (tensor.type !== 'float32' || !(tensor.data instanceof Float32Array)) {
    throw new Error(`model output "${label}" is ${tensor.type}, expected float32`);
  }
  return tensor.data;
}
