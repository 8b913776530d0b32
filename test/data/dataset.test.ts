import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { alignClasses, findSplitFolders, loadDataset, loadImageFolder, loadManifest } from '../../src/data/dataset.js';
import { checkDuplicates, hashFile } from '../../src/data/hash.js';
import { GraftError } from '../../src/errors.js';
import { classFolder, solid, tmpDir } from './fixtures.js';

const rejects = (fn: () => unknown, code: string, text: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof GraftError && e.code === code && text.test(e.message));

test('class folders: sorted classes, nested files, non-images skipped with reasons', async () => {
  const root = await classFolder(tmpDir(), { dog: 2, cat: 3 });
  await solid(path.join(root, 'cat', 'nested', 'deep.jpg'), 'jpeg');
  fs.writeFileSync(path.join(root, 'cat', 'notes.txt'), 'hello');
  fs.writeFileSync(path.join(root, 'dog', '.DS_Store'), 'x');
  fs.writeFileSync(path.join(root, 'dog', 'old.bmp'), 'BM');
  fs.writeFileSync(path.join(root, 'dog', 'empty.png'), '');
  fs.writeFileSync(path.join(root, 'README'), 'top-level file');
  const ds = loadImageFolder(root);
  assert.deepEqual(ds.classes, ['cat', 'dog']);
  assert.equal(ds.items.length, 6);
  assert.deepEqual(ds.items.map((i) => i.label), [0, 0, 0, 0, 1, 1]);
  assert.ok(ds.items.some((i) => i.path.endsWith(path.join('nested', 'deep.jpg')) && i.label === 0));
  const reasons = Object.fromEntries(ds.skipped.map((s) => [path.basename(s.path), s.reason]));
  assert.match(reasons['notes.txt']!, /not an image \(extension "\.txt"/);
  assert.equal(reasons['.DS_Store'], 'hidden file');
  assert.match(reasons['old.bmp']!, /unsupported image format \.bmp/);
  assert.equal(reasons['empty.png'], 'zero-byte file');
  assert.equal(reasons['README'], 'file outside any class folder');
  assert.equal(ds.skipped.length, 5);
  assert.match(ds.warnings[0]!, /5 file\(s\) skipped/);
});

test('folder checks: missing, a file, empty class, one class, split layout', async () => {
  const base = tmpDir();
  rejects(() => loadImageFolder(path.join(base, 'nope')), 'E_DATA_NOT_FOUND', /not found: .*nope/);
  fs.writeFileSync(path.join(base, 'f.txt'), '');
  rejects(() => loadImageFolder(path.join(base, 'f.txt')), 'E_DATA_NOT_A_FOLDER', /f\.txt/);

  const empty = await classFolder(tmpDir(), { a: 1, b: 1 });
  fs.mkdirSync(path.join(empty, 'zebra'));
  fs.writeFileSync(path.join(empty, 'zebra', 'x.txt'), 'not an image');
  rejects(() => loadImageFolder(empty), 'E_DATA_EMPTY_CLASS', /Empty: .*zebra/);

  const one = await classFolder(tmpDir(), { only: 2 });
  rejects(() => loadImageFolder(one), 'E_DATA_ONE_CLASS', /at least 2 classes\. Found 1 .*\[only\]/);

  const split = tmpDir();
  await classFolder(path.join(split, 'train'), { a: 1, b: 1 });
  await classFolder(path.join(split, 'test'), { a: 1, b: 1 });
  assert.deepEqual(findSplitFolders(split), { train: path.join(split, 'train'), val: undefined, test: path.join(split, 'test') });
  rejects(() => loadImageFolder(split), 'E_DATA_SPLIT_LAYOUT', /split folders/);
});

test('CSV manifest: header optional, relative to its folder, missing and non-image rows skipped', async () => {
  const root = tmpDir();
  await classFolder(path.join(root, 'img'), { x: 3 });
  fs.writeFileSync(path.join(root, 'img', 'x', 'n.txt'), 'no');
  const rows = ['img/x/0.png,cat', '"img/x/1.png",dog', `${path.join(root, 'img/x/2.png')},cat`, 'img/x/gone.png,dog', 'img/x/n.txt,cat'];
  fs.writeFileSync(path.join(root, 'plain.csv'), rows.join('\n') + '\n');
  fs.writeFileSync(path.join(root, 'head.csv'), ['label,path', ...rows.map((r) => r.split(',').reverse().join(','))].join('\r\n'));
  for (const name of ['plain.csv', 'head.csv']) {
    const ds = loadManifest(path.join(root, name));
    assert.deepEqual(ds.classes, ['cat', 'dog'], name);
    assert.deepEqual(ds.items.map((i) => [path.basename(i.path), i.label]), [['0.png', 0], ['1.png', 1], ['2.png', 0]], name);
    assert.deepEqual(ds.skipped.map((s) => [path.basename(s.path), s.reason.split(' (')[0]]), [['gone.png', 'file not found'], ['n.txt', 'not an image']], name);
  }
  fs.writeFileSync(path.join(root, 'bad.csv'), 'img/x/0.png,cat\njust-a-path\n');
  rejects(() => loadManifest(path.join(root, 'bad.csv')), 'E_DATA_MANIFEST', /line 2: expected a path and a label/);
});

test('JSON manifest: items with declared classes and integer labels; dispatch by extension', async () => {
  const root = tmpDir();
  await classFolder(root, { a: 2, b: 1 });
  const file = path.join(root, 'm.json');
  fs.writeFileSync(file, JSON.stringify({ classes: ['zeta', 'alpha'], items: [{ path: 'a/0.png', label: 0 }, { path: 'a/1.png', label: 'alpha' }, ['b/0.png', 'zeta']] }));
  const ds = loadDataset(file);
  assert.deepEqual(ds.classes, ['zeta', 'alpha']);
  assert.deepEqual(ds.items.map((i) => i.label), [0, 1, 0]);
  fs.writeFileSync(file, JSON.stringify([{ path: 'a/0.png', label: 10 }, { path: 'a/1.png', label: 9 }]));
  assert.deepEqual(loadDataset(file).classes, ['9', '10'], 'integer labels sort numerically');
  fs.writeFileSync(file, JSON.stringify({ classes: ['a'], items: [{ path: 'a/0.png', label: 'b' }] }));
  rejects(() => loadDataset(file), 'E_DATA_MANIFEST', /labels not in "classes": b/);
});

test('held-out classes unknown to training are an error; missing ones a warning', async () => {
  const train = loadImageFolder(await classFolder(tmpDir(), { cat: 1, dog: 1, fox: 1 }));
  const val = loadImageFolder(await classFolder(tmpDir(), { dog: 1, cat: 1 }), { minClasses: 1 });
  const aligned = alignClasses(val, train.classes, 'validation');
  assert.deepEqual(aligned.classes, ['cat', 'dog', 'fox']);
  assert.deepEqual(aligned.items.map((i) => [path.basename(path.dirname(i.path)), i.label]), [['cat', 0], ['dog', 1]]);
  assert.match(aligned.warnings.join('\n'), /no images of: fox/);
  const bad = loadImageFolder(await classFolder(tmpDir(), { cat: 1, wolf: 1, yak: 1 }));
  rejects(() => alignClasses(bad, train.classes, 'test'), 'E_DATA_UNKNOWN_CLASSES', /test set has classes the training set lacks: wolf, yak/);
});

test('duplicate files across and within splits are warned about, by name', async () => {
  const a = await classFolder(tmpDir(), { cat: 2, dog: 2 });
  const b = await classFolder(tmpDir(), { cat: 1, dog: 1 });
  fs.copyFileSync(path.join(a, 'cat', '0.png'), path.join(b, 'cat', 'leak.png'));
  fs.copyFileSync(path.join(a, 'dog', '0.png'), path.join(a, 'dog', 'twin.png'));
  const train = loadImageFolder(a);
  const val = loadImageFolder(b);
  const w = await checkDuplicates({ train, val });
  assert.equal(w.length, 2, w.join('\n'));
  assert.match(w[0]!, /1 image\(s\) appear in more than one split.*train:0\.png = val:leak\.png/);
  assert.match(w[1]!, /identical files within train: 0\.png = twin\.png/);
  assert.ok(val.warnings.some((x) => x.includes('leak.png')));
  assert.equal(train.items[0]!.hash, await hashFile(train.items[0]!.path));
  assert.match(train.items[0]!.hash!, /^[0-9a-f]{64}$/);
});
