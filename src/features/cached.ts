import type { GraftEventHandler } from '../events.js';
import { FeatureCache, backboneKey, defaultFeatureCacheDir } from './cache-file.js';
import { hashItems } from '../data/hash.js';
import type { DatasetItem } from '../data/dataset.js';
import type { PreprocessMode } from '../zoo/types.js';
import { extractFeatures, type Extractor, type ExtractResult } from './extract.js';
import { withLock } from '../io/lock.js';
import path from 'node:path';

export interface CacheKey {
  backbone: string;
  weights: string;
  cut: string;
  preprocess: PreprocessMode;
  size: readonly [number, number];
}

export interface CachedExtractOptions {
  cacheDir?: string;
  label?: string;
  batchSize?: number;
  augment?: undefined;
  onEvent?: GraftEventHandler;
  /** Disable the on-disk cache (always run the backbone). */
  noCache?: boolean;
  /** Write rows computed so far at least this often (default 30 s), so a kill loses little. */
  flushEveryMs?: number;
}

/**
 * Activations at the cut for `items`, from the on-disk cache where the same file content went
 * through the same backbone (graph + weights + cut + preprocessing + size) before; the rest run
 * through the extractor once and are added to the cache. `computed` says how many ran.
 *
 * @example
 * const r = await cachedExtract(ex, items, { backbone: bb.hash, weights, cut, preprocess: 'tf', size: [224, 224] });
 * r.computed; // 0 on a second run over the same files
 */
export async function cachedExtract(ex: Extractor, items: DatasetItem[], key: CacheKey, opts: CachedExtractOptions = {}): Promise<ExtractResult> {
  const emit = opts.onEvent;
  if (opts.noCache) return extractFeatures(ex, items, { label: opts.label, batchSize: opts.batchSize, onProgress: emit });
  await hashItems(items.filter((i) => !i.hash));
  const k = backboneKey({ graphHash: key.backbone, weightsHash: key.weights, cut: key.cut, preprocess: key.preprocess, inputSize: key.size, decode: { fit: 'crop' } });
  const dir = opts.cacheDir ? `${opts.cacheDir}/features` : defaultFeatureCacheDir();
  // One process at a time fills an entry: a second run on the same backbone waits, then reads
  // what the first computed instead of computing it again.
  return withLock(path.join(dir, `${k}.lock`), () => fillFromCache(ex, items, dir, k, opts), {
    onWait: (holder) => emit?.({ type: 'info', message: `Waiting for another Graft process (${holder}) that is computing the same backbone features` }),
  });
}


async function fillFromCache(ex: Extractor, items: DatasetItem[], dir: string, k: string, opts: CachedExtractOptions): Promise<ExtractResult> {
  const emit = opts.onEvent;
  const cache = await FeatureCache.open(dir, k, ex.outputShape);
  // A damaged or mismatched cache file is ignored and rebuilt; the user hears about it.
  for (const w of cache.warnings) emit?.({ type: 'warning', message: w });
  const known = new Map<number, Float32Array>();
  items.forEach((it, i) => {
    const row = it.hash ? cache.get(it.hash) : undefined;
    if (row) known.set(i, row);
  });
  let fresh: { hash: string; path: string; row: Float32Array }[] = [];
  let lastWrite = Date.now();
  let writing: Promise<void> = Promise.resolve();
  // Add the rows computed so far to the cache and write it (after any write in progress).
  const save = () => {
    if (fresh.length === 0) return writing;
    const d = fresh[0]!.row.length;
    const all = new Float32Array(fresh.length * d);
    fresh.forEach((f, i) => all.set(f.row, i * d));
    cache.putMany(fresh.map((f) => ({ hash: f.hash, path: f.path })), all);
    fresh = [];
    lastWrite = Date.now();
    writing = writing.then(() => cache.flush());
    return writing;
  };
  const r = await extractFeatures(ex, items, {
    label: opts.label,
    batchSize: opts.batchSize,
    known,
    onProgress: emit,
    onRow: (i, row) => {
      const it = items[i]!;
      if (it.hash) fresh.push({ hash: it.hash, path: it.path, row });
      if (Date.now() - lastWrite >= (opts.flushEveryMs ?? 30_000)) void save();
    },
  });
  await save();
  return r;
}
