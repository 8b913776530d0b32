/**
 * Child process for the memory workload: trains a head on one folder with a fresh cache and
 * prints its own peak RSS (VmHWM) as one JSON line. Run by bench/e2e/rss.ts, which also samples
 * VmRSS from outside while it runs.
 *
 *   node --import tsx bench/e2e/rss-child.ts DATA_DIR WORK_DIR EPOCHS
 */
import fs from 'node:fs';
import path from 'node:path';
import { trainClassifier } from '../../src/workflow/train.js';

const [data, work, epochs] = process.argv.slice(2);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const r = await trainClassifier({
  data: data!,
  out: path.join(work!, 'model'),
  backbone: 'mobilenet_v2',
  weights: 'nsfwjs',
  epochs: Number(epochs),
  cacheDir: path.join(work!, 'cache'),
  quiet: true,
  report: false,
});
const status = fs.readFileSync('/proc/self/status', 'utf8');
const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  JSON.stringify({
    vmHwmMiB: kb('VmHWM') / 1024,
    vmRssMiB: kb('VmRSS') / 1024,
    seconds: (performance.now() - t0) / 1000,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    backboneRuns: r.backboneRuns,
    images: r.manifest.dataset.counts,
  }) + '\n',
);
