import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkModelOut, checkFileOut, GRAFT_FILE_MARKER } from '../../src/io/out-target.js';
import { withStagedDir } from '../../src/io/atomic.js';
import { tmpDir } from '../workflow/fixtures.js';

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

function graftDir(dir: string, extra: Record<string, string> = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'graft.json'), JSON.stringify({ classes: ['a', 'b'], backbone: { name: 'mobilenet_v2' } }));
  fs.writeFileSync(path.join(dir, 'model.json'), '{}');
  for (const [k, v] of Object.entries(extra)) fs.writeFileSync(path.join(dir, k), v);
  return dir;
}

test('checkModelOut: a new path or an empty folder is written; Graft\'s own model only with force', () => {
  const root = tmpDir();
  assert.equal(checkModelOut(path.join(root, 'new', 'deeper')), 'new');
  fs.mkdirSync(path.join(root, 'empty'));
  assert.equal(checkModelOut(path.join(root, 'empty')), 'empty');
  const own = graftDir(path.join(root, 'own'));
  assert.equal(code(() => checkModelOut(own)), 'E_OUT_EXISTS');
  assert.match(String((() => { try { checkModelOut(own); } catch (e) { return (e as Error).message; } })()), /--force/);
  assert.equal(checkModelOut(own, { force: true }), 'replace');
});

test('checkModelOut refuses a user file, a foreign folder, a model folder with user files, a link, and the data itself', () => {
  const root = tmpDir();
  const thesis = path.join(root, 'thesis.txt');
  fs.writeFileSync(thesis, 'years of work');
  assert.equal(code(() => checkModelOut(thesis, { force: true })), 'E_OUT_EXISTS');
  const docs = path.join(root, 'Documents');
  fs.mkdirSync(docs);
  fs.writeFileSync(path.join(docs, 'taxes-2025.txt'), 'numbers');
  assert.equal(code(() => checkModelOut(docs, { force: true })), 'E_OUT_EXISTS');
  const mixed = graftDir(path.join(root, 'mixed'), { 'notes.txt': 'mine' });
  assert.equal(code(() => checkModelOut(mixed, { force: true })), 'E_OUT_EXISTS');
  const fake = path.join(root, 'fake');
  fs.mkdirSync(fake);
  fs.writeFileSync(path.join(fake, 'graft.json'), 'not json');
  assert.equal(code(() => checkModelOut(fake, { force: true })), 'E_OUT_EXISTS', 'an unparseable graft.json is not Graft\'s output');
  const link = path.join(root, 'link');
  fs.symlinkSync(graftDir(path.join(root, 'target')), link);
  assert.equal(code(() => checkModelOut(link, { force: true })), 'E_OUT_EXISTS');
  const data = path.join(root, 'photos');
  fs.mkdirSync(path.join(data, 'cat'), { recursive: true });
  assert.equal(code(() => checkModelOut(data, { force: true, protect: [data] })), 'E_OUT_PROTECTED');
  assert.equal(code(() => checkModelOut(path.join(data, 'model'), { force: true, protect: [data] })), 'E_OUT_PROTECTED', 'inside the data');
  assert.equal(code(() => checkModelOut(root, { force: true, protect: [data] })), 'E_OUT_PROTECTED', 'around the data');
  assert.equal(code(() => checkModelOut(path.join(root, 'ok'), { protect: [data, 'not-a-path-just-a-name'] })), undefined);
  assert.equal(fs.readFileSync(thesis, 'utf8'), 'years of work');
  assert.equal(fs.readFileSync(path.join(docs, 'taxes-2025.txt'), 'utf8'), 'numbers');
});

test('checkFileOut: only files carrying Graft\'s marker are replaced, and only with force', () => {
  const root = tmpDir();
  const mine = path.join(root, 'curve.html');
  fs.writeFileSync(mine, '<html>the user\'s page</html>');
  assert.equal(code(() => checkFileOut(mine, { force: true })), 'E_OUT_EXISTS');
  const ours = path.join(root, 'old.html');
  fs.writeFileSync(ours, `<!doctype html>\n<!-- ${GRAFT_FILE_MARKER} -->\n<html></html>`);
  assert.equal(code(() => checkFileOut(ours)), 'E_OUT_EXISTS');
  assert.equal(checkFileOut(ours, { force: true }), 'replace');
  assert.equal(checkFileOut(path.join(root, 'new.svg')), 'new');
});

test('withStagedDir: the model directory gets the umask\'s mode, not 0700', async () => {
  const dir = path.join(tmpDir(), 'model');
  const old = process.umask(0o022);
  try {
    await withStagedDir(dir, async (d) => fs.writeFileSync(path.join(d, 'graft.json'), '{}'));
  } finally {
    process.umask(old);
  }
  assert.equal(fs.statSync(dir).mode & 0o777, 0o755);
});

test('staging folders left by a killed writer are removed; a live writer\'s are kept', async () => {
  const { removeStaleStaging } = await import('../../src/io/atomic.js');
  const d = tmpDir();
  for (const n of ['.model.staging-999999-abcdef', `.model.staging-${process.pid}-abc123`, '.model.staging-999998-ab12.old', '.other.staging-999999-abcdef']) fs.mkdirSync(path.join(d, n));
  assert.deepEqual(removeStaleStaging(d, 'model').sort(), ['.model.staging-999998-ab12.old', '.model.staging-999999-abcdef']);
  assert.deepEqual(fs.readdirSync(d).sort(), [`.model.staging-${process.pid}-abc123`, '.other.staging-999999-abcdef']);
});
