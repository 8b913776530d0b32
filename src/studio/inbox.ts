import type { ChildProcess } from 'node:child_process';
import { fileKey } from './embedder.js';
import { forkStudioChild } from './settings.js';

type Batch = { predictions: { path: string; label: string; probability: number }[]; failed: { path: string; error: string }[] };

export interface VersionGuess {
  label: string;
  confidence: number;
}

/**
 * The inbox pre-labelled by the latest trained version: its model.onnx through onnxruntime (as
 * `graft predict` runs it, in predict-child.ts: a session runs on its calling thread), one
 * prediction per image, cached per version and per file (its identity across renames).
 * Predictions are computed in the background, in batches; a listing gets those ready and queues
 * the rest. A newer version replaces the cache and the process.
 */
export class InboxModel {
  private version?: string;
  private dir?: string;
  private child?: ChildProcess;
  private next = 1;
  private waiting = new Map<number, { resolve: (b: Batch) => void; reject: (e: Error) => void }>();
  private stderr = '';
  private cache = new Map<string, VersionGuess>();
  private failed = new Set<string>();
  private queue = new Map<string, string>();
  private running?: Promise<void>;
  private idle: (() => void)[] = [];
  private closed = false;

  /** Use `version` (at `dir`); a different one than before drops every cached prediction. */
  private use(version: string, dir: string): void {
    if (version === this.version) return;
    this.stop();
    this.version = version;
    this.dir = dir;
    this.cache.clear();
    this.failed.clear();
    this.queue.clear();
  }

  /**
   * The guesses of `version` for `paths` that are ready (undefined for the others, which are
   * queued), and how many are still being computed.
   */
  guesses(version: string, dir: string, paths: string[]): { guesses: (VersionGuess | undefined)[]; pending: number } {
    this.use(version, dir);
    const out = paths.map((p) => {
      const k = fileKey(p);
      if (!k) return undefined;
      const g = this.cache.get(k);
      if (!g && !this.failed.has(k)) this.queue.set(k, p);
      return g;
    });
    if (this.queue.size) this.kick();
    return { guesses: out, pending: this.queue.size + (this.running ? 1 : 0) };
  }

  private stop(): void {
    this.child?.disconnect();
    this.child?.kill();
    this.child = undefined;
  }

  /** One batch through the version's model in the child process (started on first use). */
  private predict(paths: string[]): Promise<Batch> {
    if (!this.child) {
      const c = forkStudioChild('predict-child', [JSON.stringify({ dir: this.dir })]);
      this.stderr = '';
      c.stderr?.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-2000)));
      c.on('message', (m: Batch & { id: number; error?: string }) => {
        const w = this.waiting.get(m.id);
        this.waiting.delete(m.id);
        if (m.error !== undefined) w?.reject(new Error(m.error));
        else w?.resolve(m);
      });
      c.on('error', () => undefined); // a send to a process that just exited: its 'exit' rejects the batch
      c.on('exit', (code) => {
        if (this.child === c) this.child = undefined;
        for (const w of this.waiting.values()) w.reject(new Error(`The prediction process exited (${code}): ${this.stderr.trim().split('\n').at(-1) ?? ''}`));
        this.waiting.clear();
      });
      this.child = c;
    }
    const child = this.child;
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      child.send({ id, paths });
    });
  }

  private kick(): void {
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.size && !this.closed) this.kick();
      else for (const f of this.idle.splice(0)) f();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.size && !this.closed) {
      const version = this.version!;
      const batch = [...this.queue].slice(0, 16);
      for (const [k] of batch) this.queue.delete(k);
      const byPath = new Map(batch.map(([k, p]) => [p, k]));
      try {
        const r = await this.predict(batch.map(([, p]) => p));
        if (this.version !== version) continue; // a newer version arrived meanwhile
        for (const p of r.predictions) {
          const k = byPath.get(p.path);
          if (k) this.cache.set(k, { label: p.label, confidence: p.probability });
        }
        for (const f of r.failed) {
          const k = byPath.get(f.path);
          if (k) this.failed.add(k);
        }
      } catch {
        // A version that cannot be loaded or run: its guesses fall back to the prototype head.
        if (this.version === version) for (const [k] of batch) this.failed.add(k);
      }
    }
  }

  /** Resolves when nothing is queued or running. */
  settled(): Promise<void> {
    if (!this.running && this.queue.size === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.clear();
    this.stop();
    await this.running?.catch(() => undefined);
  }
}
