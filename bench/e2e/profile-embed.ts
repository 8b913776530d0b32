/**
 * Where the end-to-end embedding time goes, on one folder: decode alone (sharp, as
 * extractFeatures calls it), the forward alone (raw ORT on a fixed batch), and the two together
 * (embedImages). Run under `node --cpu-prof` to see the main thread's share; summarise the
 * profile with bench/e2e/profile-summary.ts.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/e2e/profile-embed.ts DIR [backbone]
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeImage } from '../../src/data/decode.js';
import { embedImages } from '../../src/workflow/embed.js';
import { cpuSince, round } from './common.js';
import { benchWeights } from './weights.js';

const [dir, backbone = 'mobilenet_v2'] = process.argv.slice(2);
const files = fs.readdirSync(dir!).filter((d) => !d.startsWith('.')).flatMap((c) => fs.readdirSync(path.join(dir!, c)).map((f) => path.join(dir!, c, f)));
const weights = await benchWeights(backbone);
await embedImages([files[0]!], { backbone, weights }); // export + cache the graph first

const phase = async (name: string, f: () => Promise<unknown>) => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const s = (performance.now() - t0) / 1000;
  const cpu = cpuSince(c0);
  console.log(JSON.stringify({ phase: name, images: files.length, seconds: round(s), imgPerS: round(files.length / s, 1), cpuMsPerImage: round((cpu * 1000) / files.length, 1), cpuPerWall: round(cpu / s) }));
};

await phase('decode only (sharp, 4 in flight)', async () => {
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const r = await decodeImage(files[next++]!, { size: [224, 224], fit: 'crop' });
      if (!r.ok) throw new Error(r.reason);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
});
await phase('embedImages end to end', () => embedImages([dir!], { backbone, weights, batchSize: 16 }));
