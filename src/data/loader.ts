import fs from 'node:fs';
import { GraftError } from '../errors.js';
import { augmentPixels, randomResizedCrop, resolveAugment, type AugmentConfig } from './augment.js';
import { decodeBytes, type DecodeOptions, type DecodeResult } from './decode.js';
import type { DatasetItem, SkippedFile } from './dataset.js';
import { hashBytes } from './hash.js';
import { deriveSeed, Rng } from './rng.js';

export interface LoaderOptions {
  /** Output [height, width]. */
  size: readonly [number, number];
  batchSize: number;
  fit?: DecodeOptions['fit'];
  alpha?: DecodeOptions['alpha'];
  interpolation?: DecodeOptions['interpolation'];
  /** Training augmentation (`true` = defaults); leave unset for validation and test. */
  augment?: AugmentConfig | boolean;
  /** Shuffle each epoch (default: true when augmenting, else false). */
  shuffle?: boolean;
  seed?: number;
  /** Decodes in flight (default 3). sharp has its own thread pool; this bounds memory and queueing. */
  concurrency?: number;
  /**
   * Reuse two batch buffers in turn (default true): `batch.x` stays valid until the batch after
   * next is assembled — enough to process one batch while the next is prepared. Set false to
   * keep every batch (e.g. to collect them).
   */
  reuseBuffers?: boolean;
}

/** One batch: `x` is n*h*w*3 bytes of RGB8 HWC images, in the order of `labels`/`paths`. */
export interface Batch {
  x: Uint8Array;
  n: number;
  labels: Int32Array;
  paths: string[];
  /** sha256 of each file's bytes (computed while reading; keys the feature cache). */
  hashes: string[];
  /** Files that failed to decode since the previous batch, with reasons. */
  skipped: SkippedFile[];
}

type Slot = { result: DecodeResult; hash?: string; label: number };

/** A counting semaphore: at most `n` tasks run at once. */
function limiter(n: number) {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/**
 * Streams batches of decoded images with bounded memory: only `batchSize + concurrency` images are
 * pending at any time, decoding runs ahead into the next batch while the consumer works, and the
 * order (and augmentation) depends only on the seed and epoch, never on decode timing. Files that
 * fail to decode are reported in `batch.skipped` and accumulated in `loader.skipped`.
 *
 * @example
 * const loader = new BatchLoader(train.items, { size: [224, 224], batchSize: 32, augment: true, seed: 42 });
 * for (let e = 0; e < 3; e++) for await (const b of loader.epoch(e)) await step(b.x, b.labels, b.n);
 */
export class BatchLoader {
  private readonly items: DatasetItem[];
  private readonly opts: LoaderOptions;
  private readonly aug: ReturnType<typeof resolveAugment>;
  private readonly ring: Uint8Array[] = [];
  private readonly skippedByPath = new Map<string, string>();

  constructor(items: DatasetItem[], opts: LoaderOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new GraftError('E_BAD_OPTIONS', `batchSize must be a positive integer. Received: ${opts.batchSize}`);
    }
    this.items = items;
    this.opts = opts;
    this.aug = resolveAugment(opts.augment);
  }

  /** Every file skipped so far (all epochs, each path once). */
  get skipped(): SkippedFile[] {
    return [...this.skippedByPath].map(([path, reason]) => ({ path, reason }));
  }

  /** Batches per epoch if no file fails. */
  get batchesPerEpoch(): number {
    return Math.ceil(this.items.length / this.opts.batchSize);
  }

  /** The item order of an epoch (seeded shuffle, or the given order). */
  order(epoch: number): number[] {
    const idx = this.items.map((_, i) => i);
    const shuffle = this.opts.shuffle ?? this.aug !== undefined;
    return shuffle ? new Rng(deriveSeed(this.opts.seed ?? 42, 'shuffle', epoch)).shuffle(idx) : idx;
  }

  private async decodeOne(i: number, epoch: number): Promise<Slot> {
    const it = this.items[i]!;
    let bytes: Uint8Array;
    try {
      bytes = await fs.promises.readFile(it.path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { label: it.label, result: { ok: false, path: it.path, reason: code === 'ENOENT' ? 'file not found' : `cannot read file: ${(e as Error).message}` } };
    }
    const hash = it.hash ?? (bytes.length > 0 ? hashBytes(bytes) : undefined);
    const o = this.opts;
    const aug = this.aug;
    // One generator per (epoch, item): the result does not depend on which decode finishes first.
    const rng = aug ? new Rng(deriveSeed(o.seed ?? 42, 'augment', epoch, i)) : undefined;
    const c = aug?.crop;
    const crop = c && rng ? (w: number, h: number) => randomResizedCrop(w, h, c.scale, c.ratio, rng) : undefined;
    const result = await decodeBytes(bytes, it.path, { size: o.size, fit: o.fit, alpha: o.alpha, interpolation: o.interpolation, crop });
    if (result.ok && aug && rng) augmentPixels(result.data, result.height, result.width, aug, rng);
    return { result, hash, label: it.label };
  }

  /**
   * The batches of one epoch. A trailing run of files that all fail yields no empty batch; those
   * files are still in `loader.skipped`.
   */
  async *epoch(epoch = 0): AsyncGenerator<Batch> {
    const { batchSize } = this.opts;
    const [h, w] = this.opts.size;
    const px = h * w * 3;
    const order = this.order(epoch);
    const run = limiter(Math.max(1, this.opts.concurrency ?? 3));
    const lookahead = batchSize + Math.max(1, this.opts.concurrency ?? 3);
    const slots: Array<Promise<Slot> | undefined> = new Array(order.length);
    let started = 0;
    let consumed = 0;
    const topUp = () => {
      while (started < order.length && started < consumed + lookahead) {
        const pos = started++;
        slots[pos] = run(() => this.decodeOne(order[pos]!, epoch));
      }
    };
    let batchNo = 0;
    let pendingSkips: SkippedFile[] = [];
    while (consumed < order.length) {
      const reuse = this.opts.reuseBuffers ?? true;
      const x = reuse ? (this.ring[batchNo % 2] ??= new Uint8Array(batchSize * px)) : new Uint8Array(batchSize * px);
      const labels = new Int32Array(batchSize);
      const paths: string[] = [];
      const hashes: string[] = [];
      let n = 0;
      while (consumed < order.length && n < batchSize) {
        topUp();
        const slot = await slots[consumed]!;
        slots[consumed++] = undefined; // release the decoded pixels
        if (slot.result.ok) {
          x.set(slot.result.data, n * px);
          labels[n] = slot.label;
          paths.push(slot.result.path);
          hashes.push(slot.hash ?? '');
          n++;
        } else {
          pendingSkips.push({ path: slot.result.path, reason: slot.result.reason });
          this.skippedByPath.set(slot.result.path, slot.result.reason);
        }
      }
      topUp(); // keep decoding the next batch while the consumer works on this one
      if (n === 0) break;
      batchNo++;
      const skipped = pendingSkips;
      pendingSkips = [];
      yield { x: x.subarray(0, n * px), n, labels: labels.subarray(0, n), paths, hashes, skipped };
    }
  }
}
