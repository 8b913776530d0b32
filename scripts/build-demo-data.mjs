#!/usr/bin/env node
// Builds a class-folder image dataset from Fashion-MNIST's IDX files (Debian package
// dataset-fashion-mnist): OUT/{train,test}/<class>/<index>.png, taking the first N images of each
// class from the official train and test splits (deterministic: same args, same files).
//
// Usage:
//   node scripts/build-demo-data.mjs                       # the shipped demo: 50 train + 20 test per class
//   node scripts/build-demo-data.mjs --train 500 --test 100 --out /tmp/fmnist-500
//   options: --src DIR (IDX .gz files; default /usr/share/datasets/fashion-mnist), --clean
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const CLASSES = ['T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle_boot'];
const DEFAULT_SRC = '/usr/share/datasets/fashion-mnist';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Parse an IDX file (optionally gzipped): { dims, data } with uint8 data. */
export function readIdx(file) {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  if (buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08) throw new Error(`${file}: not an unsigned-byte IDX file`);
  const nd = buf[3];
  const dims = Array.from({ length: nd }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  const data = buf.subarray(4 + 4 * nd);
  const need = dims.reduce((a, b) => a * b, 1);
  if (data.length !== need) throw new Error(`${file}: expected ${need} bytes of data, found ${data.length}`);
  return { dims, data };
}

async function writeSplit(src, prefix, perClass, outDir) {
  const images = readIdx(path.join(src, `${prefix}-images-idx3-ubyte.gz`));
  const labels = readIdx(path.join(src, `${prefix}-labels-idx1-ubyte.gz`));
  const [n, h, w] = images.dims;
  const counts = new Array(CLASSES.length).fill(0);
  const jobs = [];
  for (let i = 0; i < n && counts.some((c) => c < perClass); i++) {
    const y = labels.data[i];
    if (counts[y] >= perClass) continue;
    counts[y]++;
    const dir = path.join(outDir, CLASSES[y]);
    fs.mkdirSync(dir, { recursive: true });
    const px = images.data.subarray(i * h * w, (i + 1) * h * w);
    // The file name is the index in the official split, so any image can be traced back.
    jobs.push(sharp(Buffer.from(px), { raw: { width: w, height: h, channels: 1 } }).png({ compressionLevel: 9 }).toFile(path.join(dir, `${String(i).padStart(5, '0')}.png`)));
    if (jobs.length >= 64) await Promise.all(jobs.splice(0));
  }
  await Promise.all(jobs);
  return counts;
}

function licenseText(o) {
  return `# Fashion-MNIST subset (demo data)

Images: Fashion-MNIST by Zalando Research, https://github.com/zalandoresearch/fashion-mnist
Copyright 2017 Zalando SE. Licence: MIT (Expat), reproduced below.
Obtained from the Debian package \`dataset-fashion-mnist\` (IDX files in ${o.src}).

Citation: Han Xiao, Kashif Rasul, Roland Vollgraf. *Fashion-MNIST: a Novel Image Dataset for
Benchmarking Machine Learning Algorithms.* arXiv:1708.07747, 2017.

## How this folder was built

\`node scripts/build-demo-data.mjs --train ${o.train} --test ${o.test}\` took, for each of the 10
classes, the first ${o.train} images of the official training split (train/) and the first ${o.test}
of the official test split (test/), in file order, and wrote each as a 28×28 greyscale PNG named
by its index in that split: \`<split>/<class>/<index>.png\`. Class folder names are the official
class names with "/" and spaces replaced by "_".

## Licence (MIT)

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`;
}

/**
 * Write OUT/train and OUT/test class folders. Returns the per-class counts written.
 * @example await buildFashionMnist({ train: 50, test: 20, out: 'data/demo/fashion-mnist' });
 */
export async function buildFashionMnist({ train = 50, test = 20, out = path.join(REPO, 'data/demo/fashion-mnist'), src = DEFAULT_SRC, clean = false } = {}) {
  if (!fs.existsSync(path.join(src, 'train-images-idx3-ubyte.gz'))) {
    throw new Error(`Fashion-MNIST IDX files not found in ${src}. Install them with: apt-get install dataset-fashion-mnist (or pass --src DIR).`);
  }
  if (clean) for (const s of ['train', 'test']) fs.rmSync(path.join(out, s), { recursive: true, force: true });
  const trainCounts = train > 0 ? await writeSplit(src, 'train', train, path.join(out, 'train')) : [];
  const testCounts = test > 0 ? await writeSplit(src, 't10k', test, path.join(out, 'test')) : [];
  fs.writeFileSync(path.join(out, 'LICENSE.md'), licenseText({ train, test, src }));
  return { train: trainCounts, test: testCounts };
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer. Received: ${argv[i]}`);
      return v;
    };
    if (a === '--train') o.train = num();
    else if (a === '--test') o.test = num();
    else if (a === '--out') o.out = path.resolve(argv[++i]);
    else if (a === '--src') o.src = argv[++i];
    else if (a === '--clean') o.clean = true;
    else throw new Error(`Unknown option ${a}. Valid: --train N --test N --out DIR --src DIR --clean`);
  }
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const r = await buildFashionMnist(o);
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  console.log(`wrote ${sum(r.train)} train + ${sum(r.test)} test images to ${o.out ?? 'data/demo/fashion-mnist'} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
