import fs from 'node:fs';
import path from 'node:path';
import { GraftError } from '../errors.js';
import type { GraftManifest } from '../io/manifest.js';
import { Batcher, type BatcherOptions } from './batcher.js';
import { HttpError, busy, notFound } from './http-error.js';
import type { ServeMetrics } from './metrics.js';
import { openRunner, type InferenceMode, type Runner } from './runner.js';

/** One loaded version of a model, with its own runner and queue. */
export interface ServedModel {
  name: string;
  version: string;
  dir: string;
  manifest: GraftManifest;
  runner: Runner;
  batcher: Batcher;
  loadSeconds: number;
  /** Requests holding this version (acquired, not yet released). */
  active: number;
  retired: boolean;
}

export interface RepositoryOptions {
  mode: InferenceMode;
  threads?: number;
  batch: Omit<BatcherOptions, 'imageLength' | 'onBatch' | 'onDequeue'>;
  metrics: ServeMetrics;
  /** Folder under which the load API may name new model directories (none: only reloads). */
  modelRoot?: string;
  log: { info(o: object, msg: string): void; error(o: object, msg: string): void };
}

export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The models a server holds, by name. Loading a name that is served builds the new version
 * completely (session created, checked, warmed) and then swaps it in with one assignment:
 * requests that already hold the old version finish on it, later ones get the new one, and the
 * old runner closes when its last request is done. So a reload fails no request.
 *
 * @example
 * const repo = new ModelRepository(opts);
 * await repo.load('cats', 'models/cats');
 * const lease = repo.acquire('cats');
 * try { await lease.model.batcher.submit(x, 1); } finally { lease.release(); }
 */
export class ModelRepository {
  private served = new Map<string, ServedModel>();
  /** Where each name was loaded from, kept after unload so `load` without a dir can bring it back. */
  private dirs = new Map<string, string>();
  private versions = new Map<string, number>();
  private chains = new Map<string, Promise<unknown>>();
  private closing = false;

  constructor(private o: RepositoryOptions) {}

  names(): string[] {
    return [...this.served.keys()].sort();
  }

  /** Every name the server knows (served or unloaded), with its state, for the repository index. */
  index(): { name: string; version?: string; state: 'READY' | 'UNAVAILABLE'; reason?: string }[] {
    return [...this.dirs.keys()].sort().map((name) => {
      const m = this.served.get(name);
      if (!m) return { name, state: 'UNAVAILABLE', reason: 'unloaded' };
      if (m.runner.broken) return { name, version: m.version, state: 'UNAVAILABLE', reason: m.runner.broken };
      return { name, version: m.version, state: 'READY' };
    });
  }

  has(name: string): boolean {
    return this.served.has(name);
  }

  /** The served version of a model; 404 for an unknown name or a version that is not served. */
  get(name: string, version?: string): ServedModel {
    const m = this.served.get(name);
    if (!m) throw notFound(`Model "${name}" is not served${this.dirs.has(name) ? ' (it was unloaded)' : ''}. Served models: ${this.names().join(', ') || 'none'}.`);
    if (version !== undefined && version !== m.version) throw notFound(`Model "${name}" version "${version}" is not served; the served version is "${m.version}".`);
    return m;
  }

  ready(m: ServedModel): boolean {
    return !m.retired && !m.runner.broken && !this.closing;
  }

  /** Hold a model version for one request; `release` when the response is done. */
  acquire(name: string, version?: string): { model: ServedModel; release: () => void } {
    if (this.closing) throw busy('The server is shutting down.');
    const model = this.get(name, version);
    if (model.runner.broken) throw new HttpError(503, `Model "${name}" is unavailable: its inference worker stopped (${model.runner.broken}). Reload it: POST /v2/repository/models/${name}/load.`);
    model.active++;
    let done = false;
    return {
      model,
      release: () => {
        if (done) return;
        done = true;
        model.active--;
        if (model.retired && model.active === 0) void this.dispose(model);
      },
    };
  }

  /**
   * Load (or reload) `name` from `dir` (default: where it was loaded from before). Loads of one
   * name run one after another; a failed load leaves the served version in place.
   */
  load(name: string, dir?: string): Promise<ServedModel> {
    if (!MODEL_NAME.test(name)) throw new HttpError(400, `Model name "${name}" is not allowed: use letters, digits, ".", "_" or "-" (at most 64, starting with a letter or digit).`);
    const from = dir ?? this.dirs.get(name);
    if (!from) throw notFound(`Model "${name}" is unknown to this server and no directory was given.`);
    const prev = this.chains.get(name) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => this.loadNow(name, from));
    this.chains.set(name, next);
    return next;
  }

  /** The load API's `dir` parameter, allowed only inside `modelRoot`. */
  resolveApiDir(dir: unknown): string {
    if (typeof dir !== 'string' || dir.length === 0) throw new HttpError(400, 'parameters.dir must be a non-empty string (a model directory).');
    if (!this.o.modelRoot) throw new HttpError(403, 'This server was started without --model-root, so the load API can only reload the directories it was started with; omit parameters.dir.');
    const root = fs.realpathSync(this.o.modelRoot);
    const abs = path.resolve(root, dir);
    let real: string;
    try {
      real = fs.realpathSync(abs);
    } catch {
      throw notFound(`Model directory ${JSON.stringify(dir)} does not exist under the model root.`);
    }
    if (real !== root && !real.startsWith(root + path.sep)) throw new HttpError(403, `Model directory ${JSON.stringify(dir)} lies outside the model root; only directories under it can be loaded.`);
    return real;
  }

  private async loadNow(name: string, dir: string): Promise<ServedModel> {
    if (this.closing) throw busy('The server is shutting down.');
    const t0 = performance.now();
    const m = this.o.metrics;
    let runner: Runner;
    try {
      runner = await openRunner(dir, { mode: this.o.mode, threads: this.o.threads });
    } catch (e) {
      m.loads.inc({ model: name, result: 'failed' });
      this.o.log.error({ model: name, dir, err: (e as Error).message }, 'model load failed');
      throw e;
    }
    const loadSeconds = (performance.now() - t0) / 1000;
    const version = String((this.versions.get(name) ?? 0) + 1);
    const [h, w] = runner.manifest.inputSize;
    const batcher = new Batcher(runner, {
      ...this.o.batch,
      imageLength: h * w * 3,
      onBatch: (size, s) => {
        m.batchSize.observe({ model: name }, size);
        m.batchTime.observe({ model: name }, s);
        m.images.inc({ model: name }, size);
      },
      onDequeue: (s) => m.queueTime.observe({ model: name }, s),
    });
    const model: ServedModel = { name, version, dir, manifest: runner.manifest, runner, batcher, loadSeconds, active: 0, retired: false };
    if (this.closing) {
      await runner.close();
      throw busy('The server is shutting down.');
    }
    const old = this.served.get(name);
    this.served.set(name, model); // the swap: one assignment
    this.versions.set(name, Number(version));
    this.dirs.set(name, dir);
    m.loads.inc({ model: name, result: 'loaded' });
    if (old) m.loadSeconds.remove({ model: name, version: old.version });
    m.loadSeconds.set({ model: name, version }, loadSeconds);
    this.o.log.info({ model: name, version, dir, loadSeconds: Number(loadSeconds.toFixed(3)) }, old ? 'model reloaded' : 'model loaded');
    if (old) this.retire(old);
    return model;
  }

  /** Stop serving `name`; requests holding it finish first. */
  async unload(name: string): Promise<void> {
    const prev = this.chains.get(name) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(() => {
      const m = this.served.get(name);
      if (!m) throw notFound(`Model "${name}" is not served.`);
      this.served.delete(name);
      this.o.metrics.loadSeconds.remove({ model: name, version: m.version });
      this.o.log.info({ model: name, version: m.version }, 'model unloaded');
      this.retire(m);
    });
    this.chains.set(name, next);
    await next;
  }

  private retire(m: ServedModel): void {
    m.retired = true;
    if (m.active === 0) void this.dispose(m);
  }

  private async dispose(m: ServedModel): Promise<void> {
    await m.batcher.idle();
    await m.runner.close().catch((e) => this.o.log.error({ model: m.name, err: (e as Error).message }, 'closing a retired model failed'));
  }

  /** Refuse new work, let queued batches finish, close every runner. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.chains.values()]);
    const all = [...this.served.values()];
    this.served.clear();
    await Promise.all(all.map((m) => this.dispose(m)));
  }
}

/** A served model's name from its directory when none is given: the folder name, if it is a valid name. */
export function defaultModelName(dir: string): string {
  const base = path.basename(path.resolve(dir));
  if (!MODEL_NAME.test(base)) throw new GraftError('E_BAD_OPTIONS', `The model directory name "${base}" cannot be a model name in a URL.`, `Name it explicitly: graft serve name=${dir}`);
  return base;
}
