/**
 * bench:studio — graft studio (issue 14), server side, over real HTTP on 127.0.0.1:
 *   1. drop N JPEGs (uploaded in the UI's 32-file requests) → every thumbnail served and every
 *      embedding cached (default backbone, 224 px, a fresh feature cache): seconds, images/s;
 *   2. the server's event-loop delay (p50/p99/max, perf_hooks) while a training run goes on in
 *      its child process and a client keeps listing images and thumbnails;
 *   3. peak RSS of the server process with a project of M images (listing every class, the
 *      inbox pre-labelling, thumbnails of the first page) while embeddings run in their child.
 *   4. frame time in the page: headless Chromium scrolling the Data grid, requestAnimationFrame
 *      intervals idle and during a training run (bench/studio-page.ts; skipped without Chromium
 *      or with --no-page).
 *
 * Usage: npm run bench:studio [-- --images 1000] [--big 20000] [--input-size 224] [--quick] [--no-page]
 * --quick: 60 images, a 600-image project, 96 px (checks the bench runs).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';
import { createStudio } from '../src/studio/server.js';
import { pageFrameTimes, describeFrames } from './studio-page.js';

const argv = process.argv.slice(2);
const val = (n: string) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : undefined);
const quick = argv.includes('--quick');
const N = Number(val('--images') ?? (quick ? 60 : 1000));
const BIG = Number(val('--big') ?? (quick ? 600 : 20_000));
const SIZE = Number(val('--input-size') ?? (quick ? 96 : 224));
const DEMO = path.resolve('data/demo/fashion-mnist/train');
const CLASSES = ['Bag', 'Sneaker', 'Trouser'];

/** `n` distinct 320×240 JPEGs per class, made from the demo images (a different crop and tint each, so no two share bytes). */
async function jpegs(dir: string, n: number): Promise<{ cls: string; file: string }[]> {
  fs.mkdirSync(dir, { recursive: true });
  const out: { cls: string; file: string }[] = [];
  for (let i = 0; i < n; i++) {
    const cls = CLASSES[i % CLASSES.length]!;
    const src = fs.readdirSync(path.join(DEMO, cls)).sort();
    const file = path.join(dir, `${cls}-${i}.jpg`);
    await sharp(path.join(DEMO, cls, src[i % src.length]!)).resize(320, 240, { fit: 'fill' }).tint({ r: 200 + (i % 55), g: 200, b: 200 + ((i * 7) % 55) }).jpeg({ quality: 85 }).toFile(file);
    out.push({ cls, file });
  }
  return out;
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-bench-studio-'));
const cacheDir = path.join(root, 'cache');
const imgs = await jpegs(path.join(root, 'src'), N);

// 1. Upload → thumbnails + embeddings.
const s = await createStudio({ project: path.join(root, 'p1'), port: 0, inputSize: SIZE, cacheDir, logLevel: 'silent' });
const base = (await s.listen()).replace(/\/\?token=.*/, '');
const auth = { authorization: `Bearer ${s.token}` };
for (const c of CLASSES) await fetch(`${base}/api/classes`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: c }) });
const t0 = performance.now();
const ids: string[] = [];
for (const c of CLASSES) {
  const mine = imgs.filter((i) => i.cls === c);
  for (let k = 0; k < mine.length; k += 32) {
    const fd = new FormData();
    for (const m of mine.slice(k, k + 32)) fd.append('file', new Blob([fs.readFileSync(m.file)], { type: 'image/jpeg' }), path.basename(m.file));
    const r = (await (await fetch(`${base}/api/images?label=${c}`, { method: 'POST', headers: auth, body: fd })).json()) as { added: { id: string }[] };
    ids.push(...r.added.map((a) => a.id));
  }
}
const tUp = performance.now();
await Promise.all(Array.from({ length: 8 }, async (_, w) => {
  for (let i = w; i < ids.length; i += 8) await (await fetch(`${base}/api/thumb?id=${encodeURIComponent(ids[i]!)}`, { headers: auth })).arrayBuffer();
}));
const tThumb = performance.now();
await s.ctx.embedder.settled();
const tEmbed = performance.now();
console.log(`1. ${N} JPEGs (320×240), ${SIZE} px: uploaded in ${((tUp - t0) / 1000).toFixed(1)} s; all thumbnails shown after ${((tThumb - t0) / 1000).toFixed(1)} s; all embeddings cached after ${((tEmbed - t0) / 1000).toFixed(1)} s (${(N / ((tEmbed - t0) / 1000)).toFixed(0)} images/s)`);

// 2. Event-loop delay while training.
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
await fetch(`${base}/api/train`, { method: 'POST', headers: auth });
let reqs = 0;
const lat: number[] = [];
while (s.ctx.trainer.state.status === 'running') {
  const a = performance.now();
  await (await fetch(`${base}/api/images?label=Bag&limit=200`, { headers: auth })).arrayBuffer();
  await (await fetch(`${base}/api/thumb?id=${encodeURIComponent(ids[reqs % ids.length]!)}`, { headers: auth })).arrayBuffer();
  lat.push(performance.now() - a);
  reqs++;
}
h.disable();
if (s.ctx.trainer.state.status !== 'done') console.log(`   training did not finish: ${JSON.stringify(s.ctx.trainer.state).slice(0, 600)}`);
lat.sort((x, y) => x - y);
console.log(`2. training ${s.ctx.trainer.state.version} (${s.ctx.trainer.state.status}, ${s.ctx.trainer.state.seconds?.toFixed(1)} s): server event-loop delay (1 ms sampling timer included) p50 ${(h.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms, max ${(h.max / 1e6).toFixed(1)} ms; ${reqs} list+thumbnail round trips meanwhile, p50 ${lat[Math.floor(lat.length / 2)]?.toFixed(1)} ms, p99 ${lat[Math.floor(lat.length * 0.99)]?.toFixed(1)} ms`);
await s.close();

// 3. Peak RSS with a big project (copies of the N sources: distinct files, repeated bytes).
const p3 = path.join(root, 'p3');
for (const c of CLASSES) fs.mkdirSync(path.join(p3, c), { recursive: true });
for (let i = 0; i < BIG; i++) {
  const m = imgs[i % imgs.length]!;
  fs.copyFileSync(m.file, path.join(p3, m.cls, `${i}.jpg`));
}
let peak = process.memoryUsage().rss;
const tick = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const t3 = performance.now();
const big = await createStudio({ project: p3, port: 0, inputSize: SIZE, cacheDir, logLevel: 'silent' });
const b3 = (await big.listen()).replace(/\/\?token=.*/, '');
const a3 = { authorization: `Bearer ${big.token}` };
for (const c of CLASSES) {
  const r = (await (await fetch(`${b3}/api/images?label=${c}&limit=5000`, { headers: a3 })).json()) as { images: { id: string }[] };
  await Promise.all(r.images.slice(0, 60).map(async (i) => (await fetch(`${b3}/api/thumb?id=${encodeURIComponent(i.id)}`, { headers: a3 })).arrayBuffer()));
}
await (await fetch(`${b3}/api/preview`, { headers: a3 })).json();
const tList = performance.now();
await big.ctx.embedder.settled();
clearInterval(tick);
console.log(`3. ${BIG}-image project: first pages listed with thumbnails after ${((tList - t3) / 1000).toFixed(1)} s; server peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB (embeddings in their own process, ${((performance.now() - t3) / 1000).toFixed(0)} s for all, features already cached for repeated bytes)`);
await big.close();
fs.rmSync(root, { recursive: true, force: true });

// 4. Frame time in the page while training.
if (!argv.includes('--no-page')) {
  const po = { images: quick ? 150 : N, inputSize: SIZE };
  console.log(describeFrames(await pageFrameTimes(po), po));
}
