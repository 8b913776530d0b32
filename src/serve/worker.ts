// The inference worker: one onnxruntime session over one model directory, off the main thread
// (onnxruntime-node's run() blocks the JS thread it is called on for the whole batch, measured:
// see BENCHMARKS.md "Serving"). Messages in: { id, x: Float32Array, n }; out: { id, probs } or
// { id, error }. The first message out is { ready } or { error } from opening the session.
import { parentPort, workerData } from 'node:worker_threads';
import { isGraftError } from '../errors.js';
import { openModelSession, type ModelSession } from '../workflow/model-session.js';

interface Job {
  id: number;
  x: Float32Array;
  n: number;
}

const port = parentPort!;
const errorOf = (e: unknown) => (isGraftError(e) ? { code: e.code, message: e.message.replace(/\n {2}hint: [\s\S]*$/, ''), hint: e.hint } : { message: (e as Error)?.message ?? String(e) });

let session: ModelSession | undefined;
try {
  const { dir, threads } = workerData as { dir: string; threads?: number };
  session = await openModelSession(dir, { threads });
  port.postMessage({ type: 'ready', manifest: session.manifest, inputName: session.inputName, outputName: session.outputName });
} catch (e) {
  port.postMessage({ type: 'error', error: errorOf(e) });
}

port.on('message', (job: Job | { type: 'close' }) => {
  if ('type' in job) {
    void session?.release().finally(() => port.close());
    return;
  }
  if (!session) return;
  session.run(job.x, job.n).then(
    (probs) => {
      // Copy out of onnxruntime's buffer so it can be transferred, not cloned.
      const out = new Float32Array(probs);
      port.postMessage({ id: job.id, probs: out }, [out.buffer]);
    },
    (e) => port.postMessage({ id: job.id, error: errorOf(e) }),
  );
});
