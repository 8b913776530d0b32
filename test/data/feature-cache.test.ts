import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { backboneKey, FeatureCache, featureKey, type FeatureKeyParts } from '../../src/features/cache-file.js';
import { GraftError } from '../../src/errors.js';
import { tmpDir } from './fixtures.js';

const parts: FeatureKeyParts = { graphHash: 'g1', weightsHash: 'w1', cut: 'block_13', preprocess: 'tf', inputSize: [224, 224], decode: { fit: 'crop' } };
const key = backboneKey(parts);
const hashes = ['aa', 'bb', 'cc'].map((s) => s.repeat(32));

test('key changes when any part changes, and is stable otherwise', () => {
  assert.equal(backboneKey({ ...parts }), key);
  const variants: FeatureKeyParts[] = [
    { ...parts, graphHash: 'g2' },
    { ...parts, weightsHash: 'w2' },
    { ...parts, cut: 'block_14' },
    { ...parts, preprocess: 'caffe' },
    { ...parts, inputSize: [224, 225] },
    { ...parts, decode: { fit: 'squash' } },
  ];
  assert.equal(new Set([key, ...variants.map(backboneKey)]).size, variants.length + 1);
  assert.notEqual(featureKey(key, hashes[0]!), featureKey(key, hashes[1]!));
  assert.notEqual(featureKey(key, hashes[0]!), featureKey(backboneKey(variants[0]!), hashes[0]!));
});

test('round trip: put, flush, reopen, get; hits and misses counted; appends keep old rows', async () => {
  const dir = tmpDir();
  const c = await FeatureCache.open(dir, key, [2, 3]);
  assert.equal(c.size, 0);
  const f = Float32Array.from({ length: 12 }, (_, i) => i + 0.5);
  c.putMany([{ hash: hashes[0]!, path: '/x/a.png' }, { hash: hashes[1]! }], f.subarray(0, 12));
  f.fill(-1); // the cache copied its input
  assert.deepEqual([...c.get(hashes[1]!)!], [6.5, 7.5, 8.5, 9.5, 10.5, 11.5]);
  await c.flush();
  assert.deepEqual(fs.readdirSync(dir), [`${key}.feat`], 'no temp files left behind');

  const r = await FeatureCache.open(dir, key, [2, 3]);
  assert.equal(r.size, 2);
  assert.deepEqual([...r.get(hashes[0]!)!], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
  assert.equal(r.get(hashes[2]!), undefined);
  assert.deepEqual(r.stats, { hits: 1, misses: 1 });
  r.putMany([{ hash: hashes[2]! }, { hash: hashes[0]! }], new Float32Array(12).fill(7)); // hashes[0] already cached: ignored
  await r.flush();
  const again = await FeatureCache.open(dir, key, [2, 3]);
  assert.equal(again.size, 3);
  assert.deepEqual([...again.get(hashes[0]!)!], [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]);
  assert.deepEqual([...again.get(hashes[2]!)!], [7, 7, 7, 7, 7, 7]);
  assert.deepEqual(again.warnings, []);
});

test('atomic flush: a failed write leaves the previous file intact; corrupt or foreign files are ignored with a warning', async () => {
  const dir = tmpDir();
  const c = await FeatureCache.open(dir, key, [4]);
  c.putMany([{ hash: hashes[0]! }], new Float32Array([1, 2, 3, 4]));
  await c.flush();
  const before = fs.readFileSync(path.join(dir, `${key}.feat`));
  c.putMany([{ hash: hashes[1]! }], new Float32Array([5, 6, 7, 8]));
  // A crash between writing and renaming: the old file must still be whole, the temp file gone.
  const rename = fs.promises.rename;
  fs.promises.rename = async () => {
    throw new Error('simulated crash');
  };
  try {
    await assert.rejects(c.flush(), /simulated crash/);
  } finally {
    fs.promises.rename = rename;
  }
  assert.deepEqual(fs.readFileSync(path.join(dir, `${key}.feat`)), before);
  assert.deepEqual(fs.readdirSync(dir), [`${key}.feat`]);
  await c.flush(); // still dirty: the retry writes both rows
  assert.equal((await FeatureCache.open(dir, key, [4])).size, 2);
  fs.writeFileSync(path.join(dir, `${key}.feat`), before);

  fs.writeFileSync(path.join(dir, `${key}.feat`), before.subarray(0, before.length - 3)); // torn by hand
  const torn = await FeatureCache.open(dir, key, [4]);
  assert.equal(torn.size, 0);
  assert.match(torn.warnings[0]!, /expected 16 bytes of features, found 13; it will be rebuilt/);
  fs.writeFileSync(path.join(dir, `${key}.feat`), before);
  const other = await FeatureCache.open(dir, key, [2, 2]);
  assert.match(other.warnings[0]!, /feature shape \[4\] differs from \[2,2\]/);
  assert.throws(() => other.putMany([{ hash: hashes[0]! }], new Float32Array(3)), (e) => e instanceof GraftError && e.code === 'E_CACHE_SHAPE');
  await assert.rejects(FeatureCache.open(dir, 'not-a-key', [4]), (e) => e instanceof GraftError && e.code === 'E_CACHE_KEY');
});

test('changed bytes in a cached feature file are caught by its checksum: reported, rebuilt, never used', async () => {
  const dir = tmpDir();
  const c = await FeatureCache.open(dir, key, [3]);
  c.putMany([{ hash: hashes[0]! }, { hash: hashes[1]! }], Float32Array.from([1, 2, 3, 4, 5, 6]));
  await c.flush();
  const file = path.join(dir, `${key}.feat`);
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 2] ^= 0x40; // one float of the last row, same length
  fs.writeFileSync(file, bytes);
  const r = await FeatureCache.open(dir, key, [3]);
  assert.equal(r.size, 0, 'nothing from the changed file is used');
  assert.match(r.warnings.join('\n'), /do not match their checksum/);
});
