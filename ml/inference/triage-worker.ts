/**
 * Worker-thread entry of TriageEngine: owns one InferenceSession per model and analyses the
 * images posted to it one at a time, so the main event loop never runs decode or inference.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createModelSessions, type ModelSession } from './models';
import { analyseImage } from './pipeline';
import { serializeError, type FromWorker, type ToWorker, type WorkerInit } from './worker-protocol';

const maybePort = parentPort;
if (!maybePort) throw new Error('triage-worker must run in a worker thread');
const port = maybePort;
const init = workerData as WorkerInit;

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function main(): Promise<void> {
  let sessions: ModelSession[];
  try {
    sessions = await createModelSessions(init.models, init.intraOpThreads);
  } catch (err) {
    send({ type: 'init-error', error: serializeError(err) });
    return;
  }
  // Jobs arrive one at a time (the engine never sends a second before the first answers).
  const { inputName, decodeLimits, gate } = init;
  port.on('message', (message: ToWorker) => {
    const { id, image, includeRaw } = message;
    analyseImage(sessions, image, { inputName, decodeLimits, includeRaw, gate }).then(
      (analysis) => {
        const buffers = [...Object.values(analysis.heatmaps).map((h) => h.cells), ...Object.values(analysis.raw ?? {}).map((r) => r.heatmap)].map(
          (a) => a.buffer as ArrayBuffer,
        );
        send({ type: 'result', id, analysis }, buffers);
      },
      (err: unknown) => send({ type: 'error', id, error: serializeError(err) }),
    );
  });
  send({ type: 'ready' });
}

void main();
