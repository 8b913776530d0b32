import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { trainClassifier } from '../../src/workflow/train.js';
import { evaluateModelDir } from '../../src/workflow/evaluate.js';
import { loadModelDir } from '../../src/io/model-dir.js';
import { readManifest } from '../../src/io/manifest.js';
import { adaptModel, shiftReport } from '../../src/adapt/index.js';
import { makeShiftedFolder } from '../../src/adapt/synthetic-shift.js';
import { loadDataset } from '../../src/data/dataset.js';
import { decodeImage } from '../../src/data/decode.js';
import { preprocess } from '../../src/zoo/preprocess.js';
import { makeDataset, tmpDir } from '../workflow/fixtures.js';

// One small source model for the whole file: 4 Fashion-MNIST classes, 30 train / 20 test each, 64 px.
const ds = makeDataset({ classes: ['Trouser', 'Bag', 'Sneaker', 'Dress'], perClass: 30, test: 20 });
const cache = tmpDir('graft-adapt-cache-');
const model = path.join(tmpDir(), 'source');
const night = path.join(tmpDir(), 'night');
const dim = path.join(tmpDir(), 'dim');
let ready: Promise<void> | undefined;
const setup = () =>
  (ready ??= (async () => {
    await trainClassifier({ data: ds.root, out: model, inputSize: 64, epochs: 8, lr: 3e-3, batchSize: 16, seed: 7, cacheDir: cache, quiet: true });
    await makeShiftedFolder(ds.test, night, 'night', 1);
    await makeShiftedFolder(ds.test, dim, 'dim', 1);
  })());
const acc = async (dir: string, data: string) => (await evaluateModelDir(dir, data)).accuracy;

test('constructed shifts hurt the source model (else nothing below proves anything)', async () => {
  await setup();
  const clean = await acc(model, ds.test);
  const n = await acc(model, night);
  const d = await acc(model, dim);
  assert.ok(clean - n >= 0.2, `night: clean ${clean} vs shifted ${n}`);
  assert.ok(clean - d >= 0.1, `dim: clean ${clean} vs shifted ${d}`);
});

test('adabn: re-estimated BN statistics beat source-only on the night shift; bn_Conv1 stats equal the target statistics (replace mode)', async () => {
  await setup();
  const out = path.join(tmpDir(), 'adabn');
  const r = await adaptModel(model, { target: night, method: 'adabn', out, seed: 1, cacheDir: cache });
  assert.equal(r.record.method, 'adabn');
  assert.equal((r.record.options as { mode: string }).mode, 'anchored');
  const before = await acc(model, night);
  const after = await acc(out, night);
  assert.ok(after >= before + 0.08, `adabn ${after} vs source-only ${before}`);
  const m = readManifest(out);
  assert.equal(m.adaptation.length, 1);
  assert.equal((m.adaptation[0]!.counts as { target: number }).target, 80);

  // Replace mode: the first BN layer's moving stats are exactly the target statistics of its input.
  const out2 = path.join(tmpDir(), 'adabn-replace');
  await adaptModel(model, { target: night, method: 'adabn', out: out2, adabn: { mode: 'replace' }, cacheDir: cache });
  const { model: adapted, manifest } = await loadModelDir(out2);
  const conv = tf.model({ inputs: adapted.inputs, outputs: adapted.getLayer('Conv1').output as tf.SymbolicTensor });
  const items = loadDataset(night).items;
  const [h, w] = manifest.inputSize;
  const sum = new Float64Array(32);
  let count = 0;
  for (const it of items) {
    const d = await decodeImage(it.path, { size: [h, w] });
    assert.ok(d.ok);
    const y = tf.tidy(() => (conv.predict(tf.tensor4d(preprocess((d as { data: Uint8Array }).data, manifest.preprocess), [1, h, w, 3])) as tf.Tensor).dataSync());
    for (let i = 0; i < y.length; i++) sum[i % 32]! += y[i]!;
    count += y.length / 32;
  }
  const moving = adapted.getLayer('bn_Conv1').getWeights()[2]!.dataSync();
  for (let c = 0; c < 32; c++) assert.ok(Math.abs(moving[c]! - sum[c]! / count) < 1e-3 * (1 + Math.abs(moving[c]!)), `channel ${c}: ${moving[c]} vs ${sum[c]! / count}`);
  adapted.dispose();
});

test('dann: a domain classifier behind gradient reversal beats source-only on the dim shift', async () => {
  await setup();
  const out = path.join(tmpDir(), 'dann');
  const r = await adaptModel(model, { target: dim, method: 'dann', out, seed: 1, cacheDir: cache });
  const before = await acc(model, dim);
  const after = await acc(out, dim);
  assert.ok(after >= before + 0.08, `dann ${after} vs source-only ${before}`);
  assert.ok(fs.existsSync(path.join(out, 'model.onnx')), 'exports to ONNX like any model');
  assert.deepEqual(readManifest(out).head.hidden, [256]);
  assert.ok(Number((r.record.details as { steps: number }).steps) > 0);
});

test('pseudo-label: self-training on confident, class-balanced target predictions raises target confidence and is recorded', async () => {
  // Honest scope: on these small constructed shifts pseudo-labelling does not reliably raise
  // accuracy (the source model is wrong on too many confident target images); the test checks what
  // it must do — select class-balanced confident labels, train, grow confidence — not that it helps.
  await setup();
  const out = path.join(tmpDir(), 'pseudo');
  const r = await adaptModel(model, { target: dim, method: 'pseudo-label', out, seed: 1, cacheDir: cache, pseudoLabel: { threshold: 0.5, perClass: 10, rounds: 2 } });
  const rounds = (r.record.details as { rounds: { selected: number; perClass: number[] }[] }).rounds;
  assert.equal(rounds.length, 2);
  for (const x of rounds) {
    assert.ok(x.selected > 0);
    assert.ok(x.perClass.every((c) => c <= 10), JSON.stringify(x.perClass));
  }
  assert.ok(r.after.meanMaxProb > r.before.meanMaxProb, `confidence ${r.before.meanMaxProb} → ${r.after.meanMaxProb}`);
  assert.ok((await acc(out, dim)) >= (await acc(model, dim)) - 0.1, 'does not wreck the model');
});

test('shift: the same folder twice is "no detectable shift"; clean vs night is a shift', async () => {
  await setup();
  const same = await shiftReport(model, ds.test, ds.test, { permutations: 100, cacheDir: cache });
  assert.equal(same.verdict, 'no detectable shift');
  assert.ok(same.pValue > 0.2, `p ${same.pValue}`);
  const shifted = await shiftReport(model, ds.test, night, { permutations: 100, cacheDir: cache });
  assert.equal(shifted.verdict, 'shift: adapt before deploying');
  assert.ok(shifted.pValue < 0.05, `p ${shifted.pValue}`);
  assert.ok(shifted.domainClassifierAccuracy >= 0.8, `domain acc ${shifted.domainClassifierAccuracy}`);
  assert.ok(shifted.confidenceDrift!.meanDrop > 0, 'the model is less sure on the night images');
});

test('CLI: graft shift --json and graft adapt errors name the valid methods', async () => {
  await setup();
  // A child process: in node:test the test process's stdout carries the runner's own events.
  const cli = path.join(tmpDir(), 'cli.mts');
  const src = (f: string) => JSON.stringify(fileURLToPath(new URL(`../../src/cli/${f}`, import.meta.url)));
  fs.writeFileSync(cli, `import { Command } from ${JSON.stringify(import.meta.resolve('commander'))};\nimport { registerShift } from ${src('shift.ts')};\nimport { registerAdapt } from ${src('adapt.ts')};\nconst p = new Command();\nregisterShift(p);\nregisterAdapt(p);\ntry { await p.parseAsync(process.argv); } catch (e) { process.stderr.write(String((e as Error).message)); process.exitCode = 2; }\n`);
  const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8' });
  const r = run(['shift', model, ds.test, night, '--json', '--permutations', '50', '--cache-dir', cache]);
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  assert.equal(JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).verdict, 'shift: adapt before deploying');
  const bad = run(['adapt', model, '--target', night, '--method', 'magic', '--out', path.join(tmpDir(), 'x')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /magic/);
  assert.match(bad.stderr, /adabn, coral, pseudo-label, dann/);
});
