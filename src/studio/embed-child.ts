// The studio's embedding process: one backbone, opened once, turning image files into pooled
// feature vectors through the same feature cache as `graft train` (the probe recipe's candidate
// cuts and cache key, so a studio-embedded image is never run through the backbone again when
// the model is trained). A separate process because onnxruntime-node's run() holds the thread it
// is called on for the whole batch: the server's event loop stays free.
// Messages in: { id, paths, noCache? }; out: { id, rows: [{ path, vec }], failed } or { id, error }.
import { openBackbone, candidateCuts, type Backbone } from '../backbones/index.js';
import { cachedExtract } from '../features/cached.js';
import { extractFeatures, type Extractor } from '../features/extract.js';
import type { CacheKey } from '../features/cached.js';
import type { StudioModelSettings } from './settings.js';

interface Job {
  id: number;
  paths: string[];
  noCache?: boolean;
}

const settings = JSON.parse(process.argv[2] ?? '{}') as StudioModelSettings;
let opened: Promise<{ bb: Backbone; ex: Extractor; key: CacheKey }> | undefined;

function open() {
  opened ??= (async () => {
    const bb = await openBackbone(settings.backbone, { weights: settings.weights, inputSize: settings.inputSize, cacheDir: settings.cacheDir });
    if (bb.pooledAt && bb.spec) {
      const cuts = candidateCuts(bb.spec);
      return { bb, ex: bb.extractor({ frozen: bb.pooledAt(cuts, 'avg') }), key: bb.cacheKey(cuts.length === 1 ? `${cuts[0]}+avgpool` : `${cuts.join(',')}+avgpool`) };
    }
    return { bb, ex: bb.extractor({ pooling: 'avg' }), key: bb.cacheKey(`${bb.cut}+avgpool`) };
  })();
  return opened;
}

let chain: Promise<void> = Promise.resolve();
process.on('message', (job: Job) => {
  chain = chain.then(async () => {
    try {
      const { ex, key } = await open();
      const items = job.paths.map((path) => ({ path, label: 0 }));
      const r = job.noCache ? await extractFeatures(ex, items, { batchSize: 16 }) : await cachedExtract(ex, items, key, { cacheDir: settings.cacheDir, batchSize: 16 });
      const f = r.features;
      const d = f.data.length / Math.max(1, f.paths.length);
      const rows = f.paths.map((path, i) => ({ path, vec: f.data.slice(i * d, (i + 1) * d) }));
      process.send!({ id: job.id, rows, failed: r.skipped, computed: r.computed });
    } catch (e) {
      process.send!({ id: job.id, error: (e as Error).message });
    }
  });
});
process.on('disconnect', () => process.exit(0));
process.send!({ ready: true });
