import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { findSplitFolders, loadImageFolder } from '../../src/data/dataset.js';
import { decodeImage } from '../../src/data/decode.js';
import { tmpDir } from './fixtures.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const demo = path.join(repo, 'data/demo/fashion-mnist');
const CLASSES = ['Ankle_boot', 'Bag', 'Coat', 'Dress', 'Pullover', 'Sandal', 'Shirt', 'Sneaker', 'T-shirt_top', 'Trouser'];

test('the shipped demo set: 10 classes × 50 train / 20 test, decodable, with its licence', async () => {
  const split = findSplitFolders(demo);
  assert.ok(split?.test, 'train/ and test/ found');
  const train = loadImageFolder(split.train);
  const test = loadImageFolder(split.test!);
  assert.deepEqual(train.classes, CLASSES);
  assert.deepEqual(test.classes, CLASSES);
  for (let c = 0; c < 10; c++) {
    assert.equal(train.items.filter((i) => i.label === c).length, 50);
    assert.equal(test.items.filter((i) => i.label === c).length, 20);
  }
  assert.deepEqual(train.skipped, []);
  const r = await decodeImage(train.items[0]!.path, { size: [28, 28] });
  assert.ok(r.ok && r.data[0] === r.data[1] && r.data[1] === r.data[2], 'grey becomes equal RGB');
  assert.match(fs.readFileSync(path.join(demo, 'LICENSE.md'), 'utf8'), /Zalando.*MIT|MIT[\s\S]*Zalando/);
});

test('build script: reads (gzipped) IDX and writes the first N per class as PNG', async () => {
  const src = tmpDir();
  const idx = (magic: number, dims: number[], data: number[]) => {
    const head = Buffer.alloc(4 + 4 * dims.length);
    head.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    return zlib.gzipSync(Buffer.concat([head, Buffer.from(data)]));
  };
  const labels = [3, 1, 3, 3, 1];
  const images = labels.flatMap((l, i) => Array.from({ length: 4 }, () => i * 10 + l));
  for (const p of ['train', 't10k']) {
    fs.writeFileSync(path.join(src, `${p}-images-idx3-ubyte.gz`), idx(0x803, [5, 2, 2], images));
    fs.writeFileSync(path.join(src, `${p}-labels-idx1-ubyte.gz`), idx(0x801, [5], labels));
  }
  // @ts-expect-error plain .mjs script without types
  const { buildFashionMnist } = await import('../../scripts/build-demo-data.mjs');
  const out = tmpDir();
  const counts = await buildFashionMnist({ train: 2, test: 1, out, src });
  assert.deepEqual(counts.train, [0, 2, 0, 2, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(fs.readdirSync(path.join(out, 'train', 'Dress')).sort(), ['00000.png', '00002.png']);
  assert.deepEqual(fs.readdirSync(path.join(out, 'test', 'Trouser')), ['00001.png']);
  const r = await decodeImage(path.join(out, 'train', 'Dress', '00002.png'), { size: [2, 2] });
  assert.ok(r.ok && r.data.every((v) => v === 23));
  assert.ok(fs.existsSync(path.join(out, 'LICENSE.md')));
});
