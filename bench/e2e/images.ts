import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { REPO, log, runProcess } from './common.js';

const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
/**
 * The ten photographs behind the benchmark's JPEG folder, one class each: Debian python3-skimage's
 * sample photos (public domain / CC0 per skimage's data/README).
 */
export const PHOTOS = [
  'astronaut.png', 'chelsea.png', 'coffee.png', 'motorcycle_left.png', 'ihc.png',
  'rocket.jpg', 'hubble_deep_field.jpg', 'retina.jpg', 'camera.png', 'grass.png',
] as const;

/** Where generated benchmark data lives between runs (regenerating 2,000 JPEGs costs ~1 min). */
export const DATA_ROOT = process.env.GRAFT_BENCH_DATA ?? path.join(os.tmpdir(), 'graft-bench-data');

/** mulberry32: a tiny seeded PRNG, so the same (n, seed) gives byte-identical folders. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * A class-folder of real-size JPEGs derived from real photographs: image k of class c is a seeded
 * random crop (35–100% of the photo's area, 4:3 landscape or, one time in ten, 3:4 portrait) of
 * photo c, mirrored half the time, brightness scaled by 0.85–1.15, resized (Lanczos) to 500×375
 * (or 375×500) and saved as baseline JPEG at quality 80–92. Reused when already complete.
 *
 * @example
 * const dir = await makeJpegFolder(2000); // <tmp>/graft-bench-data/jpeg-2000-s7/<photo>/<k>.jpg
 */
export async function makeJpegFolder(n: number, seed = 7): Promise<string> {
  const dir = path.join(DATA_ROOT, `jpeg-${n}-s${seed}`);
  const done = path.join(dir, '.complete');
  if (fs.existsSync(done)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  log(`[data] writing ${n} JPEGs from ${PHOTOS.length} skimage photos into ${dir}`);
  const r = rng(seed);
  for (let c = 0; c < PHOTOS.length; c++) {
    const src = path.join(SKIMAGE, PHOTOS[c]!);
    const cls = PHOTOS[c]!.replace(/\.(png|jpg)$/, '');
    fs.mkdirSync(path.join(dir, cls), { recursive: true });
    const { data, info } = await sharp(src).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    const count = Math.floor(n / PHOTOS.length) + (c < n % PHOTOS.length ? 1 : 0);
    const jobs: Promise<unknown>[] = [];
    for (let k = 0; k < count; k++) {
      const portrait = r() < 0.1;
      const aspect = portrait ? 3 / 4 : 4 / 3;
      const area = (0.35 + 0.65 * r()) * info.width * info.height;
      let w = Math.round(Math.sqrt(area * aspect));
      let h = Math.round(w / aspect);
      if (w > info.width) (w = info.width), (h = Math.round(w / aspect));
      if (h > info.height) (h = info.height), (w = Math.round(h * aspect));
      const left = Math.floor(r() * (info.width - w + 1));
      const top = Math.floor(r() * (info.height - h + 1));
      const flip = r() < 0.5;
      const bright = 0.85 + 0.3 * r();
      const quality = 80 + Math.floor(r() * 13);
      let img = sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
        .extract({ left, top, width: w, height: h })
        .resize(portrait ? 375 : 500, portrait ? 500 : 375, { fit: 'fill', kernel: 'lanczos3' })
        .modulate({ brightness: bright });
      if (flip) img = img.flop();
      jobs.push(img.jpeg({ quality, mozjpeg: false }).toFile(path.join(dir, cls, `${String(k).padStart(5, '0')}.jpg`)));
      if (jobs.length >= 8) await Promise.all(jobs.splice(0));
    }
    await Promise.all(jobs);
  }
  fs.writeFileSync(done, new Date().toISOString());
  return dir;
}

/**
 * Fashion-MNIST as a class folder of 28×28 PNGs (scripts/build-demo-data.mjs), `perClass` × 10
 * images: small files, so the memory benchmark's time goes to the pipeline, not to decoding.
 */
export async function makeFashionFolder(perClass: number): Promise<string> {
  const dir = path.join(DATA_ROOT, `fmnist-${perClass}`);
  const done = path.join(dir, '.complete');
  if (fs.existsSync(done)) return path.join(dir, 'train');
  log(`[data] writing ${perClass * 10} Fashion-MNIST PNGs into ${dir}`);
  const r = await runProcess('node', [path.join(REPO, 'scripts', 'build-demo-data.mjs'), '--train', String(perClass), '--test', '0', '--out', dir, '--clean'], 600_000);
  if (r.code !== 0) throw new Error(`build-demo-data failed: ${r.stderr.trim()}`);
  fs.rmSync(path.join(dir, 'test'), { recursive: true, force: true });
  fs.writeFileSync(done, new Date().toISOString());
  return path.join(dir, 'train');
}
