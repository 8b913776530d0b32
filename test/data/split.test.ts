import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Dataset } from '../../src/data/dataset.js';
import { loadSplits, stratifiedSplit } from '../../src/data/split.js';
import { deriveSeed, Rng } from '../../src/data/rng.js';
import { GraftError } from '../../src/errors.js';
import { classFolder, tmpDir } from './fixtures.js';

/** An in-memory dataset: counts[c] items of class c (paths need not exist for splitting). */
function fake(counts: number[]): Dataset {
  const items = counts.flatMap((n, c) => Array.from({ length: n }, (_, i) => ({ path: `/d/${c}/${i}.png`, label: c })));
  return { root: '/d', classes: counts.map((_, c) => `c${c}`), items, skipped: [], warnings: [] };
}
const count = (ds: Dataset | undefined, c: number) => ds!.items.filter((i) => i.label === c).length;

test('rng: seeded, uniform-ish, independent derived streams', () => {
  const a = Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(7)));
  const b = Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(7)));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(8))));
  const r = new Rng(1);
  const mean = Array.from({ length: 20000 }, () => r.next()).reduce((s, x) => s + x, 0) / 20000;
  assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
  assert.notEqual(deriveSeed(1, 'a', 0), deriveSeed(1, 'a', 1));
  assert.notEqual(deriveSeed(1, 'ab'), deriveSeed(1, 'a', 'b'));
  assert.equal(deriveSeed(3, 'x', 9), deriveSeed(3, 'x', 9));
});

test('stratified split keeps class proportions and is a partition', () => {
  const ds = fake([100, 50, 10]);
  const s = stratifiedSplit(ds, { val: 0.2, test: 0.1, seed: 1 });
  assert.deepEqual([0, 1, 2].map((c) => count(s.val, c)), [20, 10, 2]);
  assert.deepEqual([0, 1, 2].map((c) => count(s.test, c)), [10, 5, 1]);
  assert.deepEqual([0, 1, 2].map((c) => count(s.train, c)), [70, 35, 7]);
  const all = [...s.train.items, ...s.val!.items, ...s.test!.items].map((i) => i.path).sort();
  assert.deepEqual(all, ds.items.map((i) => i.path).sort());
});

test('split is deterministic per seed, differs across seeds, and tiny classes keep a training image', () => {
  const ds = fake([30, 30]);
  const paths = (seed: number) => stratifiedSplit(ds, { val: 0.3, seed }).val!.items.map((i) => i.path);
  assert.deepEqual(paths(5), paths(5));
  assert.notDeepEqual(paths(5), paths(6));
  const tiny = stratifiedSplit(fake([1, 2, 3]), { val: 0.5, test: 0.4, seed: 0 });
  assert.deepEqual([0, 1, 2].map((c) => count(tiny.train, c) > 0), [true, true, true]);
  assert.equal(count(tiny.val, 1), 1);
  assert.throws(() => stratifiedSplit(ds, { val: 0.6, test: 0.5, seed: 0 }), (e) => e instanceof GraftError && e.code === 'E_BAD_SPLIT');
});

test('loadSplits: split layout detected, explicit val folder aligned, holdout from one folder', async () => {
  const root = tmpDir();
  await classFolder(path.join(root, 'train'), { b: 4, a: 4 });
  await classFolder(path.join(root, 'test'), { a: 2 });
  const s = await loadSplits(root, { valSplit: 0.25, seed: 3 });
  assert.deepEqual(s.train.classes, ['a', 'b']);
  assert.equal(s.train.items.length, 6);
  assert.equal(s.val!.items.length, 2);
  assert.deepEqual(s.test!.items.map((i) => i.label), [0, 0]);
  assert.match(s.warnings.join('\n'), /test set has no images of: b/);

  const val = await classFolder(tmpDir(), { b: 1, a: 1 });
  const e = await loadSplits(path.join(root, 'train'), { val, seed: 3 });
  assert.equal(e.train.items.length, 8, 'nothing held out when a val folder is given');
  assert.deepEqual(e.val!.items.map((i) => [path.basename(path.dirname(i.path)), i.label]), [['a', 0], ['b', 1]]);

  const bad = await classFolder(tmpDir(), { a: 1, c: 1 });
  await assert.rejects(loadSplits(path.join(root, 'train'), { val: bad }), (err) => err instanceof GraftError && err.code === 'E_DATA_UNKNOWN_CLASSES' && /: c /.test(err.message));
  fs.copyFileSync(path.join(root, 'train', 'a', '0.png'), path.join(val, 'a', 'dup.png'));
  const d = await loadSplits(path.join(root, 'train'), { val, seed: 3 });
  assert.match(d.warnings.join('\n'), /more than one split.*train:0\.png = validation|train:0\.png = val:dup\.png/);
});
