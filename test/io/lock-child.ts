// One process of the cache-sharing tests: cachedExtract over the given images through a slow
// stand-in extractor (the mean of each image, 60 ms a batch), into a shared cache folder.
// Prints {"computed": n, "rows": [...]} when done.
import { cachedExtract } from '../../src/features/cached.js';
import type { Extractor } from '../../src/features/extract.js';

const [cacheDir, flushEveryMs, ...files] = process.argv.slice(2);
const ex: Extractor = {
  inputSize: [16, 16],
  outputShape: [1],
  async run(x, n) {
    await new Promise((r) => setTimeout(r, 60));
    const out = new Float32Array(n);
    const d = x.length / n;
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) out[i]! += x[i * d + j]! / d;
    return out;
  },
};
const items = files.map((path, i) => ({ path, label: i % 2 }));
const r = await cachedExtract(ex, items, { backbone: 'stand-in', weights: 'none', cut: 'mean', preprocess: 'none', size: [16, 16] }, { cacheDir, batchSize: 2, flushEveryMs: Number(flushEveryMs), onEvent: (e) => e.type === 'info' && process.stderr.write(`${e.message}\n`) });
process.stdout.write(JSON.stringify({ computed: r.computed, rows: Array.from(r.features.data) }));
