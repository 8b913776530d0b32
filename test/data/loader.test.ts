import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadImageFolder } from '../../src/data/dataset.js';
import { decodeImage } from '../../src/data/decode.js';
import { hashFile } from '../../src/data/hash.js';
import { BatchLoader, type Batch } from '../../src/data/loader.js';
import { classFolder, junk, tmpDir, truncatedJpeg } from './fixtures.js';

const root = tmpDir();
const ready = (async () => {
  await classFolder(root, { a: 8, b: 7, c: 8 }, 10);
  fs.writeFileSync(path.join(root, 'b', 'zero.png'), '');
  await truncatedJpeg(path.join(root, 'c', 'cut.jpg'));
  junk(path.join(root, 'a', 'noise.jpg'));
  const ds = loadImageFolder(root);
  // the folder scan already skips the zero-byte file; put it back to exercise the loader's report
  ds.items.push({ path: path.join(root, 'b', 'zero.png'), label: 1 });
  return ds;
})();

async function collect(it: AsyncGenerator<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

test('each epoch yields every good image exactly once and reports the bad ones by path', async () => {
  const ds = await ready;
  assert.equal(ds.items.length, 26);
  const loader = new BatchLoader(ds.items, { size: [6, 6], batchSize: 4, shuffle: true, seed: 1, reuseBuffers: false });
  for (const epoch of [0, 1]) {
    const batches = await collect(loader.epoch(epoch));
    const paths = batches.flatMap((b) => b.paths);
    assert.equal(paths.length, 23);
    assert.equal(new Set(paths).size, 23);
    assert.deepEqual(batches.map((b) => b.n), [4, 4, 4, 4, 4, 3]);
    for (const b of batches) {
      assert.equal(b.x.length, b.n * 6 * 6 * 3);
      assert.equal(b.labels.length, b.n);
      b.paths.forEach((p, i) => assert.equal(b.labels[i], ['a', 'b', 'c'].indexOf(path.basename(path.dirname(p)))));
    }
    const skipped = batches.flatMap((b) => b.skipped).map((s) => `${path.basename(s.path)}: ${s.reason}`).sort();
    assert.equal(skipped.length, 3);
    assert.match(skipped[0]!, /^cut\.jpg: truncated or corrupt JPEG/);
    assert.equal(skipped[1], 'noise.jpg: not an image (unsupported format)');
    assert.equal(skipped[2], 'zero.png: zero-byte file');
  }
  assert.equal(loader.skipped.length, 3, 'accumulated once per path');
});

test('order is seeded per epoch; unshuffled eval batches match a plain decode; hashes are sha256', async () => {
  const ds = await ready;
  const order = (seed: number, e: number) => new BatchLoader(ds.items, { size: [4, 4], batchSize: 5, shuffle: true, seed }).order(e);
  assert.deepEqual(order(3, 0), order(3, 0));
  assert.notDeepEqual(order(3, 0), order(3, 1));
  assert.notDeepEqual(order(3, 0), order(4, 0));
  const evalLoader = new BatchLoader(ds.items, { size: [5, 5], batchSize: 5, reuseBuffers: false });
  assert.deepEqual(evalLoader.order(0), ds.items.map((_, i) => i), 'no shuffle without augmentation');
  const [first] = await collect(evalLoader.epoch(0));
  const ref = await decodeImage(ds.items[0]!.path, { size: [5, 5] });
  assert.ok(ref.ok);
  assert.deepEqual(first!.x.subarray(0, 75), ref.data);
  assert.equal(first!.hashes[0], await hashFile(ds.items[0]!.path));
});

test('augmented batches depend on seed and epoch only, not on decode concurrency', async () => {
  const ds = await ready;
  const run = async (concurrency: number, seed: number, epoch: number) => {
    const l = new BatchLoader(ds.items, { size: [8, 8], batchSize: 6, augment: true, seed, concurrency, reuseBuffers: false });
    return Buffer.concat((await collect(l.epoch(epoch))).map((b) => b.x)).toString('hex');
  };
  const a = await run(1, 5, 0);
  assert.equal(await run(4, 5, 0), a);
  assert.notEqual(await run(4, 5, 1), a);
  assert.notEqual(await run(4, 6, 0), a);
});

test('buffers are reused in a ring of two by default', async () => {
  const ds = await ready;
  const l = new BatchLoader(ds.items, { size: [4, 4], batchSize: 4 });
  const bufs: ArrayBufferLike[] = [];
  for await (const b of l.epoch(0)) bufs.push(b.x.buffer);
  assert.equal(new Set(bufs).size, 2);
  assert.throws(() => new BatchLoader(ds.items, { size: [4, 4], batchSize: 0 }), /batchSize must be a positive integer/);
});
