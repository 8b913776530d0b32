import type { GraftProgressEvent } from '../events.js';
import { decodeImage, type CropBox, type FitMode } from '../data/decode.js';
import type { PreprocessMode } from '../zoo/types.js';
import { preprocess } from '../zoo/preprocess.js';
import type { FeatureSet } from './feature-set.js';
import { rowSize } from './feature-set.js';
import { Rng, deriveSeed } from '../data/rng.js';
import type * as tf from '@tensorflow/tfjs';

/** What turns a batch of images into activations: an ORT frozen backbone, or pixels themselves. */
export interface Extractor {
  /** [h, w] the images are resized to. */
  readonly inputSize: readonly [number, number];
  /** Shape of one output row. */
  readonly outputShape: readonly number[];
  /** x: n*h*w*3 raw RGB in [0,255] as float32 (NHWC). */
  run(x: Float32Array, n: number): Promise<Float32Array>;
}

export interface LabeledItem {
  path: string;
  label: number;
}

/** Progress of an extraction: Graft's progress event (events.ts) for the task 'extract'. */
export type ExtractProgress = GraftProgressEvent;

export interface ExtractOptions {
  batchSize?: number;
  fit?: FitMode;
  /** Per-item transform of the decoded RGB8 pixels (training augmentation). */
  augment?: (rgb: Uint8Array, h: number, w: number, item: LabeledItem, index: number) => Uint8Array;
  /** Per-item crop of the oriented source before resizing (random-resized-crop augmentation). */
  crop?: (width: number, height: number, item: LabeledItem, index: number) => CropBox;
  onProgress?: (e: ExtractProgress) => void;
  label?: string;
  /** Rows already known (feature cache hits), by item index. Those images are not decoded. */
  known?: Map<number, Float32Array>;
  /** Called with each newly computed row (to fill a feature cache). */
  onRow?: (index: number, row: Float32Array) => void;
  /** Decodes in flight at once (sharp runs them on its own thread pool). */
  concurrency?: number;
}

export interface ExtractResult {
  features: FeatureSet;
  skipped: { path: string; reason: string }[];
  /** Images that went through the extractor (decoded cache misses). */
  computed: number;
}

/**
 * Decode → (augment) → extractor, batch by batch, keeping both cores busy: the next batch is
 * decoded by sharp's thread pool while onnxruntime runs the current one. Unreadable files are
 * skipped and returned with their reason; every other image yields one row, in input order.
 *
 * @example
 * const { features, skipped } = await extractFeatures(backbone, items, { batchSize: 32 });
 */
export async function extractFeatures(ex: Extractor, items: LabeledItem[], opts: ExtractOptions = {}): Promise<ExtractResult> {
  const bs = opts.batchSize ?? 32;
  const [h, w] = ex.inputSize;
  const d = rowSize(ex.outputShape);
  const pix = h * w * 3;
  const rows: (Float32Array | undefined)[] = new Array(items.length);
  const skipped: { path: string; reason: string }[] = [];
  const label = opts.label ?? 'features';
  const todo: number[] = [];
  for (let i = 0; i < items.length; i++) {
    const k = opts.known?.get(i);
    if (k) rows[i] = k;
    else todo.push(i);
  }
  opts.onProgress?.({ type: 'initiate', task: 'extract', label, loaded: 0, total: items.length, unit: ' images' });
  let done = items.length - todo.length;
  let computed = 0;

  const decodeBatch = async (idx: number[]) => {
    const out: { i: number; data: Uint8Array }[] = [];
    // Queue the whole batch at once: onnxruntime-node's run() blocks the JS thread, but decodes
    // already queued keep going on libuv's pool meanwhile, so decode overlaps inference.
    const conc = opts.concurrency ?? idx.length;
    let next = 0;
    const worker = async () => {
      while (next < idx.length) {
        const i = idx[next++]!;
        const crop = opts.crop;
        const r = await decodeImage(items[i]!.path, { size: [h, w], fit: opts.fit ?? 'crop', crop: crop ? (cw: number, ch: number) => crop(cw, ch, items[i]!, i) : undefined });
        if (!r.ok) {
          skipped.push({ path: r.path, reason: r.reason });
          continue;
        }
        out.push({ i, data: opts.augment ? opts.augment(r.data, h, w, items[i]!, i) : r.data });
      }
    };
    await Promise.all(Array.from({ length: Math.min(conc, idx.length) }, worker));
    out.sort((a, b) => a.i - b.i);
    return out;
  };

  const batches: number[][] = [];
  for (let s = 0; s < todo.length; s += bs) batches.push(todo.slice(s, s + bs));
  const x = new Float32Array(bs * pix);
  let pending = batches.length > 0 ? decodeBatch(batches[0]!) : undefined;
  for (let b = 0; b < batches.length; b++) {
    const decoded = await pending!;
    pending = b + 1 < batches.length ? decodeBatch(batches[b + 1]!) : undefined;
    if (decoded.length > 0) {
      for (let k = 0; k < decoded.length; k++) {
        const src = decoded[k]!.data;
        const off = k * pix;
        for (let j = 0; j < pix; j++) x[off + j] = src[j]!;
      }
      const y = await ex.run(x.subarray(0, decoded.length * pix), decoded.length);
      computed += decoded.length;
      for (let k = 0; k < decoded.length; k++) {
        const row = y.slice(k * d, (k + 1) * d);
        rows[decoded[k]!.i] = row;
        opts.onRow?.(decoded[k]!.i, row);
      }
    }
    done += batches[b]!.length;
    opts.onProgress?.({ type: 'progress', task: 'extract', label, loaded: done, total: items.length, unit: ' images' });
  }
  opts.onProgress?.({ type: 'done', task: 'extract', label, loaded: items.length, total: items.length, unit: ' images' });

  const kept = rows.map((r, i) => (r ? i : -1)).filter((i) => i >= 0);
  const data = new Float32Array(kept.length * d);
  const labels = new Int32Array(kept.length);
  const paths: string[] = [];
  kept.forEach((i, k) => {
    data.set(rows[i]!, k * d);
    labels[k] = items[i]!.label;
    paths.push(items[i]!.path);
  });
  return { features: { data, shape: [...ex.outputShape], labels, paths }, skipped, computed };
}

/**
 * The identity "backbone" for whole-network training from scratch: rows are the preprocessed
 * pixels themselves.
 */
export function pixelExtractor(size: readonly [number, number], mode: PreprocessMode): Extractor {
  return {
    inputSize: size,
    outputShape: [size[0], size[1], 3],
    async run(x: Float32Array) {
      return preprocess(x, mode);
    },
  };
}

/**
 * A training source that decodes, augments and runs the frozen backbone for every batch. Each
 * image of each epoch gets its own generators (crop, pixels), derived from the seed, the epoch
 * and its place in the epoch's order: decodes finish in any order, and a seeded run repeats.
 */
export function augmentedSource(
  ex: Extractor,
  items: LabeledItem[],
  batchSize: number,
  seed: number,
  augment: (rgb: Uint8Array, h: number, w: number, rng: Rng) => Uint8Array,
  crop: ((w: number, h: number, rng: Rng) => CropBox) | undefined,
  onImage: () => void,
) {
  return {
    size: Math.ceil(items.length / batchSize),
    async *batches(epoch: number) {
      const order = new Rng(deriveSeed(seed, 'shuffle', epoch)).shuffle(items.map((_, i) => i));
      for (let s = 0; s < order.length; s += batchSize) {
        const chunk = order.slice(s, s + batchSize).map((i) => items[i]!);
        const rng = (what: string, i: number) => new Rng(deriveSeed(seed, `augment-${what}`, epoch, s + i));
        const r = await extractFeatures(ex, chunk, {
          augment: (rgb, h, w, _item, i) => augment(rgb, h, w, rng('pixels', i)),
          batchSize,
          crop: crop ? (cw, ch, _item, i) => crop(cw, ch, rng('crop', i)) : undefined,
        });
        for (let k = 0; k < chunk.length; k++) onImage();
        if (r.features.labels.length === 0) continue;
        yield { x: r.features.data, xShape: [r.features.labels.length, ...r.features.shape], y: r.features.labels };
      }
    },
  };
}
