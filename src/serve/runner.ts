import { Worker } from 'node:worker_threads';
import { GraftError, type ErrorCode } from '../errors.js';
import type { GraftManifest } from '../io/manifest.js';
import { openModelSession } from '../workflow/model-session.js';

/**
 * Where a model's batches run. `worker` (the default) runs onnxruntime in a worker thread with its
 * own session, so HTTP parsing, JSON and sharp's decoding go on while a batch runs; `main` runs it
 * on the event loop (kept for the benchmark's comparison and for environments without workers).
 */
export type InferenceMode = 'worker' | 'main';

/** A loaded model that turns float32 NHWC batches into probability rows. */
export interface Runner {
  readonly manifest: GraftManifest;
  /** The ONNX graph's input and output names (shown in the OIP metadata). */
  readonly inputName: string;
  readonly outputName: string;
  /** Set when the worker died: the model must be reloaded. */
  readonly broken?: string;
  run(x: Float32Array, n: number): Promise<Float32Array>;
  close(): Promise<void>;
}

interface WireError {
  code?: ErrorCode;
  message: string;
  hint?: string;
}

const rebuild = (e: WireError): Error => (e.code ? new GraftError(e.code, e.message, e.hint) : new Error(e.message));

/**
 * Start the worker: the built worker.js, or under tsx (tests, bench) the .ts source through a
 * small bootstrap that registers tsx in the worker first (loader hooks of the main thread do
 * not reach worker threads in Node 20).
 */
function startWorker(workerData: unknown): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData });
  const entry = new URL('./worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * Open a model directory for serving: the session is created (and checked against graft.json)
 * before this resolves, so a model that is not ready is never put in front of requests.
 *
 * @example
 * const r = await openRunner('my-model', { mode: 'worker', threads: 2 });
 * const probs = await r.run(pixels, 1);
 * await r.close();
 */
export async function openRunner(dir: string, opts: { mode?: InferenceMode; threads?: number } = {}): Promise<Runner> {
  if ((opts.mode ?? 'worker') === 'main') {
    const s = await openModelSession(dir, { threads: opts.threads });
    return { manifest: s.manifest, inputName: s.inputName, outputName: s.outputName, run: (x, n) => s.run(x, n), close: () => s.release() };
  }
  return WorkerRunner.open(dir, opts.threads);
}

class WorkerRunner implements Runner {
  private next = 1;
  private pending = new Map<number, { resolve: (p: Float32Array) => void; reject: (e: Error) => void }>();
  broken?: string;
  private closing = false;

  private constructor(
    private worker: Worker,
    readonly manifest: GraftManifest,
    readonly inputName: string,
    readonly outputName: string,
  ) {
    worker.on('message', (m: { id: number; probs?: Float32Array; error?: WireError }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(rebuild(m.error));
      else p.resolve(m.probs!);
    });
    const fail = (why: string) => {
      if (this.closing) return;
      this.broken = why;
      for (const p of this.pending.values()) p.reject(new GraftError('E_SERVE_WORKER', `The inference worker of ${manifest.backbone.name} stopped: ${why}`, 'Reload the model (POST /v2/repository/models/<name>/load) or restart the server.'));
      this.pending.clear();
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exit code ${code}`));
  }

  static async open(dir: string, threads?: number): Promise<WorkerRunner> {
    const worker = startWorker({ dir, threads });
    type First = { type: string; manifest?: GraftManifest; inputName?: string; outputName?: string; error?: WireError };
    let onMessage!: (m: First) => void;
    let onError!: (e: Error) => void;
    let onExit!: (code: number) => void;
    const first = await new Promise<First>((resolve, reject) => {
      onMessage = resolve;
      onError = reject;
      onExit = (code) => reject(new GraftError('E_SERVE_WORKER', `The inference worker for ${dir} exited (code ${code}) before it was ready.`));
      worker.once('message', onMessage).once('error', onError).once('exit', onExit);
    }).finally(() => {
      // Only our own listeners: Worker keeps internal ones (its port is ref'd through them).
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    });
    if (first.type !== 'ready') {
      await worker.terminate();
      throw rebuild(first.error!);
    }
    return new WorkerRunner(worker, first.manifest!, first.inputName!, first.outputName!);
  }

  run(x: Float32Array, n: number): Promise<Float32Array> {
    if (this.broken) return Promise.reject(new GraftError('E_SERVE_WORKER', `The inference worker stopped: ${this.broken}`, 'Reload the model or restart the server.'));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, x, n }, [x.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    // Ask the worker to release its session, then make sure it is gone.
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }
}
