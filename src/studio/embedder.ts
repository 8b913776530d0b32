import fs from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { computePrototypes } from '../heads/prototype.js';
import { centerNormalize } from '../heads/normalize.js';
import { forkStudioChild, type StudioModelSettings } from './settings.js';

/** A file's identity across renames (moving an image between classes keeps its embedding). */
export function fileKey(p: string): string | undefined {
  try {
    const s = fs.statSync(p);
    return `${s.dev}:${s.ino}:${s.size}:${Math.floor(s.mtimeMs)}`;
  } catch {
    return undefined;
  }
}

export interface PrototypeModel {
  classes: string[];
  prototypes: Float32Array;
  center: Float32Array;
  dim: number;
}

export interface Guess {
  label: string;
  confidence: number;
  probabilities: number[];
}

/** Softmax scale on cosine similarity: the prototype head's own default. */
const SCALE = 10;

/**
 * Embeds every image once (in the embedding child process, through the CLI's feature cache) and
 * keeps the vectors in memory, so the prototype head — one mean per class — can be recomputed
 * on each request in microseconds: a working model from the first images of each class.
 */
export class Embedder {
  private child?: ChildProcess;
  private next = 1;
  private waiting = new Map<number, { resolve: (v: { rows: { path: string; vec: Float32Array }[]; failed: { path: string; reason: string }[] }) => void; reject: (e: Error) => void }>();
  private vectors = new Map<string, Float32Array>();
  private failed = new Map<string, string>();
  private queue = new Set<string>();
  private running?: Promise<void>;
  private idle: (() => void)[] = [];
  private stderr = '';
  /** Set by close(): no new child is started (a queued batch would otherwise fork one again). */
  private closed = false;

  constructor(private settings: StudioModelSettings) {}

  private start(): ChildProcess {
    if (this.closed) throw new Error('The studio is closing: no more embeddings.');
    if (this.child) return this.child;
    const c = forkStudioChild('embed-child', [JSON.stringify(this.settings)]);
    c.stderr?.on('data', (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4000)));
    c.on('message', (m: { id?: number; rows?: { path: string; vec: Float32Array }[]; failed?: { path: string; reason: string }[]; error?: string }) => {
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve({ rows: m.rows!, failed: m.failed! });
    });
    c.on('exit', (code) => {
      this.child = undefined;
      for (const w of this.waiting.values()) w.reject(new Error(`The embedding process exited (${code}): ${this.stderr.trim().split('\n').at(-1) ?? ''}`));
      this.waiting.clear();
    });
    this.child = c;
    return c;
  }

  /** Vectors of `paths` now (for the try panel: not added to the project's vectors). */
  run(paths: string[], noCache = false): Promise<{ rows: { path: string; vec: Float32Array }[]; failed: { path: string; reason: string }[] }> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = this.start();
      } catch (e) {
        reject(e as Error);
        return;
      }
      this.waiting.set(id, { resolve, reject });
      child.send({ id, paths, noCache });
    });
  }

  /** Queue images for embedding (those already embedded are skipped). */
  add(paths: string[]): void {
    for (const p of paths) {
      const k = fileKey(p);
      if (k && !this.vectors.has(k) && !this.failed.has(k)) this.queue.add(p);
    }
    this.running ??= this.drain().finally(() => {
      this.running = undefined;
      if (this.queue.size) this.add([]);
      else for (const f of this.idle.splice(0)) f();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.size) {
      const batch = [...this.queue].slice(0, 64);
      for (const p of batch) this.queue.delete(p);
      try {
        const r = await this.run(batch);
        for (const row of r.rows) {
          const k = fileKey(row.path);
          if (k) this.vectors.set(k, row.vec);
        }
        for (const f of r.failed) {
          const k = fileKey(f.path);
          if (k) this.failed.set(k, f.reason);
        }
      } catch (e) {
        for (const p of batch) {
          const k = fileKey(p);
          if (k) this.failed.set(k, (e as Error).message);
        }
      }
    }
  }

  /** Resolves when nothing is queued or running. */
  settled(): Promise<void> {
    if (!this.running && this.queue.size === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  close(): void {
    this.closed = true;
    this.queue.clear();
    this.child?.disconnect();
    this.child?.kill();
  }

  status(): { embedded: number; queued: number; failed: number } {
    return { embedded: this.vectors.size, queued: this.queue.size + (this.running ? 1 : 0), failed: this.failed.size };
  }

  vectorOf(p: string): Float32Array | undefined {
    const k = fileKey(p);
    return k ? this.vectors.get(k) : undefined;
  }

  failureOf(p: string): string | undefined {
    const k = fileKey(p);
    return k ? this.failed.get(k) : undefined;
  }

  /**
   * The prototype head over the labelled images embedded so far (classes without an embedded
   * image are left out), or undefined below two classes.
   */
  prototypes(labelled: { path: string; label: string }[]): PrototypeModel | undefined {
    const rows = labelled.flatMap((l) => {
      const v = this.vectorOf(l.path);
      return v ? [{ v, label: l.label }] : [];
    });
    const classes = [...new Set(rows.map((r) => r.label))].sort();
    if (classes.length < 2) return undefined;
    const dim = rows[0]!.v.length;
    const data = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => data.set(r.v, i * dim));
    const labels = Int32Array.from(rows, (r) => classes.indexOf(r.label));
    const p = computePrototypes({ data, shape: [dim], labels, paths: rows.map(() => '') }, classes.length);
    return { classes, prototypes: p.prototypes, center: p.center, dim };
  }
}

/** softmax(SCALE · cos(x, p_c)) over the prototype model's classes. */
export function guess(m: PrototypeModel, vec: Float32Array): Guess {
  const z = centerNormalize(vec, m.dim, m.center);
  const logits = m.classes.map((_, c) => {
    let s = 0;
    for (let k = 0; k < m.dim; k++) s += z[k]! * m.prototypes[c * m.dim + k]!;
    return SCALE * s;
  });
  const top = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - top));
  const sum = e.reduce((a, b) => a + b, 0);
  const probabilities = e.map((v) => v / sum);
  const best = probabilities.indexOf(Math.max(...probabilities));
  return { label: m.classes[best]!, confidence: probabilities[best]!, probabilities };
}
