import { Classifier } from '../workflow/predict.js';
import { fileKey } from './embedder.js';

export interface VersionGuess {
  label: string;
  confidence: number;
}

/**
 * The inbox pre-labelled by the latest trained version: its model.onnx through onnxruntime (as
 * `graft predict` runs it), one prediction per image, cached per version and per file (its
 * identity across renames). Predictions are computed in the background, in batches; a listing
 * gets those ready and queues the rest. A newer version replaces the cache and the session.
 */
export class InboxModel {
  private version?: string;
  private dir?: string;
  private clf?: Promise<Classifier>;
  private cache = new Map<string, VersionGuess>();
  private failed = new Set<string>();
  private queue = new Map<string, string>();
  private running?: Promise<void>;
  private idle: (() => void)[] = [];
  private closed = false;

  /** Use `version` (at `dir`); a different one than before drops every cached prediction. */
  private use(version: string, dir: string): void {
    if (version === this.version) return;
    const old = this.clf;
    void old?.then((c) => c.dispose(), () => undefined);
    this.version = version;
    this.dir = dir;
    this.clf = undefined;
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
        // One intra-op thread: the server's own thread pool stays free for requests and training.
        this.clf ??= Classifier.load(this.dir!, { threads: 1 });
        const clf = await this.clf;
        const r = await clf.predictFiles(batch.map(([, p]) => p), { top: 1, batchSize: 16 });
        if (this.version !== version) continue; // a newer version arrived meanwhile
        for (const p of r.predictions) {
          const k = byPath.get(p.path);
          if (k) this.cache.set(k, { label: p.top[0]!.label, confidence: p.top[0]!.probability });
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
    await this.running;
    (await this.clf?.catch(() => undefined))?.dispose();
  }
}
