import type { GraftEventHandler } from '../events.js';
import { FeatureCache, backboneKey, defaultFeatureCacheDir } from './cache-file.js';
import { hashItems } from '../data/hash.js';
import type { DatasetItem } from '../data/dataset.js';
import type { PreprocessMode } from '../zoo/types.js';
import { extractFeatures, type Extractor, type ExtractResult } from './extract.js';

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
  const cache = await FeatureCache.open(opts.cacheDir ? `${opts.cacheDir}/features` : defaultFeatureCacheDir(), k, ex.outputShape);
  // A damaged or mismatched cache file is ignored and rebuilt; the user hears about it.
  for (const w of cache.warnings) emit?.({ type: 'warning', message: w });
  const known = new Map<number, Float32Array>();
  items.forEach((it, i) => {
    const row = it.hash ? cache.get(it.hash) : undefined;
    if (row) known.set(i, row);
  });
  const fresh: { hash: string; path: string; row: Float32Array }[] = [];
  const r = await extractFeatures(ex, items, {
    label: opts.label,
    batchSize: opts.batchSize,
    known,
    onProgress: emit,
    onRow: (i, row) => {
      const it = items[i]!;
      if (it.hash) fresh.push({ hash: it.hash, path: it.path, row });
    },
  });
  if (fresh.length > 0) {
    const d = fresh[0]!.row.length;
    const all = new Float32Array(fresh.length * d);
    fresh.forEach((f, i) => all.set(f.row, i * d));
    cache.putMany(fresh.map((f) => ({ hash: f.hash, path: f.path })), all);
    await cache.flush();
  }
  return r;
}
