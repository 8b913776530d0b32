import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { GraftError } from '../errors.js';
import { parseTrainOptions } from '../options.js';
import type { GraftEvent } from '../events.js';
import type { Project } from './project.js';
import { forkStudioChild, type StudioModelSettings } from './settings.js';

export type RunStatus = 'idle' | 'running' | 'done' | 'failed' | 'cancelled';

/** One message of the training stream, as Server-Sent Events send it (`id:` for reconnects). */
export interface StreamMessage {
  id: number;
  event: 'train' | 'state';
  data: unknown;
}

export interface RunState {
  status: RunStatus;
  version?: string;
  startedAt?: string;
  error?: string;
  accuracy?: number;
  seconds?: number;
}

export interface VersionInfo {
  version: string;
  createdAt: string;
  classes: string[];
  accuracy?: number;
  metrics: Record<string, unknown>;
  head?: unknown;
  /** Set on a version made by `graft adapt` from another one (graft.json's last `adaptation` record). */
  adaptedFrom?: { version: string; method: string; target: string; createdAt: string };
}

/** The training options the studio's "Advanced" fold may set; everything else stays `graft train`'s default. */
export const ADVANCED_KEYS = ['head', 'epochs', 'fineTuneBlocks', 'augment', 'timeBudget'] as const;
export type AdvancedOptions = Partial<Record<(typeof ADVANCED_KEYS)[number], unknown>>;

/** Only the advanced keys, checked by the same schema as `graft train`'s flags (E_BAD_OPTIONS lists every problem). */
export function checkAdvanced(raw: unknown): AdvancedOptions {
  const o = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !(ADVANCED_KEYS as readonly string[]).includes(k));
  if (extra.length) throw new GraftError('E_BAD_OPTIONS', `Unknown training option(s) for the studio: ${extra.join(', ')}.`, `Should be among: ${ADVANCED_KEYS.join(', ')}`);
  const picked = Object.fromEntries(ADVANCED_KEYS.filter((k) => o[k] !== undefined && o[k] !== '').map((k) => [k, o[k]]));
  parseTrainOptions({ data: '.', out: 'x', ...picked }, 'studio training options');
  return picked;
}

/** Most stream messages kept for replay to a reconnecting client. */
const KEEP = 5000;

/**
 * Training runs of a project, one at a time, each in a child process (train-child.ts). Every
 * event goes to a numbered stream that Server-Sent Events replay from `Last-Event-ID`; a finished
 * run becomes `.graft/models/vN` (a complete Graft model directory: graft.json, model.onnx,
 * report.html, …) with the Inspect data beside it in `vN.inspect.json`.
 */
export class Trainer {
  state: RunState = { status: 'idle' };
  private child?: ChildProcess;
  private stream: StreamMessage[] = [];
  private seq = 0;
  private listeners = new Set<(m: StreamMessage) => void>();
  private finished?: Promise<RunState>;

  constructor(
    private project: Project,
    private settings: StudioModelSettings,
  ) {}

  get modelsDir(): string {
    return path.join(this.project.meta, 'models');
  }

  private emit(event: StreamMessage['event'], data: unknown): void {
    const m = { id: ++this.seq, event, data };
    this.stream.push(m);
    if (this.stream.length > KEEP) this.stream.splice(0, this.stream.length - KEEP);
    for (const l of this.listeners) l(m);
  }

  private setState(s: RunState): void {
    this.state = s;
    this.emit('state', s);
  }

  /** Messages after `lastId`, then every new one, until the returned function is called. */
  subscribe(lastId: number, on: (m: StreamMessage) => void): () => void {
    for (const m of this.stream) if (m.id > lastId) on(m);
    this.listeners.add(on);
    return () => this.listeners.delete(on);
  }

  versions(): VersionInfo[] {
    return fs
      .readdirSync(this.modelsDir)
      .filter((n) => /^v\d+$/.test(n) && fs.existsSync(path.join(this.modelsDir, n, 'graft.json')))
      .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
      .map((version) => {
        const m = JSON.parse(fs.readFileSync(path.join(this.modelsDir, version, 'graft.json'), 'utf8'));
        const a = (m.adaptation as { from: string; method: string; target: string; createdAt: string }[] | undefined)?.at(-1);
        const adaptedFrom = a && { version: path.basename(a.from), method: a.method, target: a.target, createdAt: a.createdAt };
        return { version, createdAt: m.createdAt, classes: m.classes, accuracy: m.metrics?.accuracy, metrics: m.metrics, head: m.head, ...(adaptedFrom ? { adaptedFrom } : {}) };
      });
  }

  /** The directory of a version, refusing anything but an existing `vN`. */
  versionDir(version: unknown): string {
    if (typeof version !== 'string' || !/^v\d{1,6}$/.test(version) || !fs.existsSync(path.join(this.modelsDir, version, 'graft.json'))) {
      throw new GraftError('E_STUDIO_NOT_FOUND', `No model version ${JSON.stringify(String(version)).slice(0, 40)}.`, `Should be one of: ${this.versions().map((v) => v.version).join(', ') || '(none trained yet)'}`);
    }
    return path.join(this.modelsDir, version);
  }

  inspect(version: string): unknown {
    const dir = this.versionDir(version);
    const file = `${dir}.inspect.json`;
    return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
  }

  /** The next free version name. */
  private nextVersion(): string {
    const used = fs.readdirSync(this.modelsDir).map((n) => /^v(\d+)/.exec(n)).filter((m) => m).map((m) => Number(m![1]));
    return `v${Math.max(0, ...used) + 1}`;
  }

  private checkIdle(): void {
    if (this.state.status === 'running') throw new GraftError('E_STUDIO_BUSY', `A training run (${this.state.version}) is in progress; one at a time.`, 'Wait for it, or cancel it: POST /api/train/cancel.');
    if (this.adapting) throw new GraftError('E_STUDIO_BUSY', `An adaptation (${this.adapting}) is in progress; one run at a time.`, 'Wait for it to finish.');
  }

  /** The version an adaptation in progress will become. */
  private adapting?: string;

  /**
   * `graft adapt` of `from` to the unlabelled images in `target` (adapt-child.ts), stored as the
   * next version: written to a staging folder outside the project, then moved into
   * .graft/models/vN. Its graft.json's `adaptation` array records what was done. No Inspect data
   * is written (the target has no labels): the Inspect page shows the adaptation instead.
   */
  async adapt(from: string, method: 'adabn' | 'coral', target: string): Promise<{ version: string; from: string; method: string; seconds: number; before: unknown; after: unknown; sourceAccuracy?: number }> {
    const model = this.versionDir(from);
    this.checkIdle();
    const version = this.nextVersion();
    this.adapting = version;
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-studio-adapt-'));
    const out = path.join(stage, 'model');
    try {
      const done = await new Promise<{ before: unknown; after: unknown; sourceAccuracy?: number; seconds: number }>((resolve, reject) => {
        const child = forkStudioChild('adapt-child', [JSON.stringify({ model, target, out, method, cacheDir: this.settings.cacheDir })]);
        let stderr = '';
        let result: { done?: { before: unknown; after: unknown; sourceAccuracy?: number; seconds: number }; error?: string } = {};
        child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
        child.on('message', (m: { done?: { before: unknown; after: unknown; sourceAccuracy?: number; seconds: number }; error?: string }) => {
          if (m.done || m.error) result = m;
        });
        child.on('exit', (code, signal) => {
          if (result.done) resolve(result.done);
          else reject(new GraftError('E_STUDIO_ADAPT', `graft adapt (${method}) of ${from} failed: ${result.error ?? `the process ended (${signal ?? code}): ${stderr.trim().split('\n').at(-1) ?? ''}`}`));
        });
      });
      fs.cpSync(out, path.join(this.modelsDir, version), { recursive: true });
      return { version, from, method, ...done };
    } finally {
      this.adapting = undefined;
      fs.rmSync(stage, { recursive: true, force: true });
    }
  }

  /** Start a run with `graft train`'s defaults (and any advanced options); returns once started (see `done()`). */
  start(advanced: AdvancedOptions = {}): RunState {
    this.checkIdle();
    const version = this.nextVersion();
    // Graft never writes a model inside the data it reads: train into a staging folder outside
    // the project, then move the finished directory into .graft/models.
    const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-studio-run-'));
    const out = path.join(stage, 'model');
    // The job goes on the command line: keep it small (one argument may hold at most 128 KiB on
    // Linux), so no per-image lists; the child reads the project folder itself.
    const child = forkStudioChild('train-child', [JSON.stringify({ data: this.project.root, out, settings: this.settings, advanced })]);
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    this.setState({ status: 'running', version, startedAt: new Date().toISOString() });
    let result: RunState | undefined;
    this.finished = new Promise((resolve) => {
      child.on('message', (m: { event?: GraftEvent; done?: { accuracy: number; seconds: number }; error?: string }) => {
        if (m.event) this.emit('train', m.event);
        else if (m.done) {
          try {
            fs.cpSync(out, path.join(this.modelsDir, version), { recursive: true });
            fs.copyFileSync(path.join(stage, 'inspect.json'), path.join(this.modelsDir, `${version}.inspect.json`));
            result = { status: 'done', version, accuracy: m.done.accuracy, seconds: m.done.seconds };
          } catch (e) {
            result = { status: 'failed', version, error: `Could not store the model: ${(e as Error).message}` };
          }
        } else if (m.error) result = { status: 'failed', version, error: m.error };
      });
      child.on('exit', (code, signal) => {
        this.child = undefined;
        fs.rmSync(stage, { recursive: true, force: true });
        const s = result ?? (this.state.status === 'cancelled' ? this.state : { status: 'failed' as const, version, error: `The training process ended (${signal ?? code}): ${stderr.trim().split('\n').at(-1) ?? ''}` });
        this.setState(s);
        resolve(s);
      });
    });
    return this.state;
  }

  /** Stop the run in progress; nothing of it is kept. */
  cancel(): RunState {
    if (this.state.status !== 'running' || !this.child) throw new GraftError('E_STUDIO_BUSY', 'No training run is in progress to cancel.');
    this.state = { ...this.state, status: 'cancelled' };
    this.child.kill('SIGTERM');
    return this.state;
  }

  /** The end of the current (or last) run. */
  done(): Promise<RunState> {
    return this.finished ?? Promise.resolve(this.state);
  }

  close(): Promise<void> {
    if (!this.child) return Promise.resolve();
    this.state = { ...this.state, status: 'cancelled' };
    this.child.kill('SIGTERM');
    return this.done().then(() => undefined);
  }
}
