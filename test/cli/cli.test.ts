import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeDataset, tmpDir } from '../workflow/fixtures.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const home = tmpDir('graft-home-');

function graft(args: string[], opts: { input?: string } = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, GRAFT_HOME: home, GRAFT_OFFLINE: '1' },
    input: opts.input,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const KERAS_PARAMS: Record<string, number> = {
  vgg16: 138357544,
  vgg19: 143667240,
  resnet50: 25636712,
  resnet101: 44707176,
  resnet152: 60419944,
  inception_v3: 23851784,
  mobilenet_v2: 3538984,
  efficientnet_b0: 5330571,
};

test('graft models --json lists every architecture with Keras\' parameter counts', () => {
  const r = graft(['models', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as { name: string; params: number; inputShape: number[]; blocks: string[]; preprocessing: string }[];
  assert.deepEqual(rows.map((x) => x.name).sort(), Object.keys(KERAS_PARAMS).sort());
  for (const row of rows) {
    assert.equal(row.params, KERAS_PARAMS[row.name], row.name);
    assert.equal(row.inputShape.length, 3);
    assert.ok(row.blocks.length >= 4, `${row.name} blocks`);
    assert.ok(['caffe', 'tf', 'torch', 'raw01', 'none'].includes(row.preprocessing));
  }
});

const ds = makeDataset({ classes: ['Trouser', 'Bag'], perClass: 8, test: 3, bad: true });
const out = path.join(tmpDir(), 'cli-model');

test('graft train → predict → eval → export from the command line', () => {
  const cfg = path.join(tmpDir(), 'cfg.yaml');
  fs.writeFileSync(cfg, 'epochs: 3\nlr: 0.003\nbatchSize: 8\ninputSize: 96\nseed: 3\n');
  const t = graft(['train', ds.root, '--out', out, '--backbone', 'mobilenet_v2', '--weights', 'nsfwjs', '--config', cfg, '--quiet']);
  assert.equal(t.code, 0, t.stderr);
  assert.match(t.stdout, /test accuracy \d+(\.\d)?% on 6 images/);
  assert.match(t.stdout, /zero\.jpg/, 'skipped files are listed in the run output');
  const m = JSON.parse(fs.readFileSync(path.join(out, 'graft.json'), 'utf8'));
  assert.equal(m.training.epochs, 3, 'config file applied');

  const img = path.join(ds.test, 'Bag');
  const p = graft(['predict', out, img, ds.bad[0]!, '--json', '--top', '1']);
  assert.equal(p.code, 0, p.stderr);
  const pj = JSON.parse(p.stdout);
  assert.equal(pj.predictions.length, 3);
  assert.equal(pj.failed.length, 1);
  assert.equal(pj.failed[0].path, ds.bad[0]);

  const e = graft(['eval', out, ds.test, '--json']);
  assert.equal(e.code, 0, e.stderr);
  const ej = JSON.parse(e.stdout);
  for (const k of ['accuracy', 'perClass', 'confusion']) assert.ok(k in ej, k);
  assert.equal(ej.count, 6);

  const x = tmpDir('graft-x-');
  const ex = graft(['export', out, '--format', 'onnx', '--out', x]);
  assert.equal(ex.code, 0, ex.stderr);
  assert.ok(fs.existsSync(path.join(x, 'model.onnx')));
  const again = graft(['export', out, '--format', 'onnx', '--out', x]);
  assert.equal(again.code, 2, 'an earlier export is replaced only with --force');
  assert.match(again.stderr, /E_OUT_EXISTS: .*already holds an earlier export \(model\.onnx\)[\s\S]*--force/);
  assert.equal(graft(['export', out, '--format', 'onnx', '--out', x, '--force']).code, 0);

  // Training again into the same --out: refused without --force, the earlier model untouched.
  const before = fs.readFileSync(path.join(out, 'graft.json'), 'utf8');
  const re = graft(['train', ds.root, '--out', out, '--quiet']);
  assert.equal(re.code, 2);
  assert.match(re.stderr, /already holds a Graft model/);
  assert.equal(fs.readFileSync(path.join(out, 'graft.json'), 'utf8'), before);
});

test('graft train/export/curve/eval never overwrite what the user owns (--out safety)', () => {
  const root = tmpDir('graft-owned-');
  const thesis = path.join(root, 'thesis.txt');
  fs.writeFileSync(thesis, 'four years of work');
  const docs = path.join(root, 'Documents');
  fs.mkdirSync(docs);
  fs.writeFileSync(path.join(docs, 'taxes-2025.txt'), 'numbers');
  const images = (): string[] => fs.readdirSync(ds.train, { recursive: true }).map(String).sort();
  const had = images();
  const cases: [string[], RegExp][] = [
    [['train', ds.root, '--out', thesis, '--force'], /thesis\.txt is an existing file/],
    [['train', ds.root, '--out', ds.root, '--force'], /E_OUT_PROTECTED/],
    [['train', ds.root, '--out', path.join(ds.train, 'model')], /E_OUT_PROTECTED: .*lies inside/],
    [['train', ds.root, '--out', docs, '--force'], /Documents is not empty and holds no Graft model \(found: taxes-2025\.txt\)/],
    [['export', out, '--format', 'tfjs', '--out', docs, '--force'], /holds no Graft model/],
    [['curve', ds.train, '--test', ds.test, '--out', thesis, '--force'], /Graft did not write/],
    [['eval', out, ds.test, '--report', thesis, '--force'], /Graft did not write/],
  ];
  for (const [args, msg] of cases) {
    const r = graft(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'a clear error, no stack trace');
  }
  assert.equal(fs.readFileSync(thesis, 'utf8'), 'four years of work');
  assert.deepEqual(fs.readdirSync(docs), ['taxes-2025.txt']);
  assert.deepEqual(images(), had, 'no training image touched');
});

test('graft train: invalid options are listed with their path and value', () => {
  const cfg = path.join(tmpDir(), 'bad.json');
  fs.writeFileSync(cfg, JSON.stringify({ epochs: 0, dropout: 2, optimiser: 'adam' }));
  const r = graft(['train', ds.root, '--out', path.join(tmpDir(), 'x'), '--config', cfg]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /epochs/);
  assert.match(r.stderr, /dropout/);
  assert.match(r.stderr, /optimiser/);
  const ft = graft(['train', ds.root, '--out', path.join(tmpDir(), 'x'), '--fine-tune-blocks', 'abc']);
  assert.equal(ft.code, 2);
  assert.match(ft.stderr, /fineTuneBlocks: a whole number of blocks ≥ 0, or 'all'/);
});

test('graft train: a folder with one class is refused before any training', () => {
  const one = tmpDir('graft-one-');
  fs.cpSync(path.join(ds.train, 'Bag'), path.join(one, 'Bag'), { recursive: true });
  const r = graft(['train', one, '--out', path.join(tmpDir(), 'y'), '--quiet']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /class/i);
});

test('graft embed --json prints one vector per readable image and names the unreadable ones', () => {
  const r = graft(['embed', path.join(ds.test, 'Trouser'), ds.bad[2]!, '--backbone', 'mobilenet_v2', '--weights', 'nsfwjs', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.embeddings.length, 3);
  assert.equal(j.dims, 1280);
  assert.equal(j.embeddings[0].embedding.length, 1280);
  assert.equal(j.failed.length, 1);
  assert.equal(j.failed[0].path, ds.bad[2]);
  assert.match(r.stderr, /noise\.jpg/);
});

test('graft with an unknown backbone lists the valid ones', () => {
  const r = graft(['embed', ds.test, '--backbone', 'resnet51']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /resnet50/);
});

test('the CLI\'s method lists match the library\'s', async () => {
  const { CLI_ADAPT_METHODS } = await import('../../src/cli/adapt.js');
  const { ADAPT_METHODS } = await import('../../src/adapt/adapt.js');
  const { CLI_CURVE_METHODS } = await import('../../src/cli/curve.js');
  const { CURVE_METHODS } = await import('../../src/workflow/curve.js');
  assert.deepEqual([...CLI_ADAPT_METHODS], [...ADAPT_METHODS]);
  assert.deepEqual([...CLI_CURVE_METHODS], [...CURVE_METHODS]);
});
