import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { trainClassifier } from '../../src/workflow/train.js';
import { Classifier } from '../../src/workflow/predict.js';
import { evaluateModelDir } from '../../src/workflow/evaluate.js';
import { exportModelDir } from '../../src/workflow/export.js';
import { readManifest } from '../../src/io/manifest.js';
import { makeDataset, plainRuntimes, tmpDir } from './fixtures.js';

const ds = makeDataset({ bad: true });
const cache = tmpDir('graft-cache-');
const out = path.join(tmpDir(), 'model');
const base = { data: ds.root, out, backbone: 'mobilenet_v2', weights: 'nsfwjs', inputSize: 96, epochs: 6, lr: 3e-3, batchSize: 8, seed: 7, cacheDir: cache, quiet: true };

let first: Awaited<ReturnType<typeof trainClassifier>>;

test('train: a frozen-backbone classifier on real images writes a complete model directory', async () => {
  first = await trainClassifier(base);
  for (const f of ['model.json', 'weights.bin', 'model.onnx', 'graft.json', 'report.html']) {
    assert.ok(fs.existsSync(path.join(out, f)), `missing ${f}`);
  }
  const m = readManifest(out);
  assert.deepEqual(m.classes, ['Bag', 'Sneaker', 'Trouser']);
  assert.equal(m.backbone.name, 'mobilenet_v2');
  assert.equal(m.backbone.weights.source, 'nsfwjs');
  assert.equal(m.preprocess, 'raw01');
  assert.equal(m.backbone.frozenUpTo, m.backbone.cut);
  assert.equal(m.metrics.split, 'test');
  // Three very different classes, pretrained features: far above chance (1/3).
  assert.ok(Number(m.metrics.accuracy) >= 0.75, `accuracy ${m.metrics.accuracy}`);
  assert.equal(first.backboneRuns, 36 + 12, 'every readable train/val/test image went through the backbone once');
  // Pooling runs in the frozen graph, so the cache holds one 1280-float vector per image, not 3x3x1280 maps.
  const featDir = path.join(cache, 'features');
  const bytes = fs.readdirSync(featDir).reduce((a, f) => a + fs.statSync(path.join(featDir, f)).size, 0);
  assert.ok(bytes < 48 * 1280 * 4 * 2, `feature cache holds ${bytes} bytes`);
});

test('train: bad files are skipped and listed by path with a reason, never dropped silently', () => {
  const m = readManifest(out);
  const listed = new Map(m.dataset.skipped.map((s) => [s.path, s.reason]));
  for (const b of ds.bad) assert.ok(listed.has(b), `${b} not listed in graft.json; listed: ${[...listed.keys()].join(', ')}`);
  for (const r of listed.values()) assert.ok(r.length > 5);
});

test('train: a second run reads cached activations and never reruns the backbone', async () => {
  const again = await trainClassifier({ ...base, out: path.join(tmpDir(), 'model2') });
  assert.equal(again.backboneRuns, 0);
  assert.equal(Number(again.manifest.metrics.accuracy), Number(first.manifest.metrics.accuracy), 'same seed, same data: same metrics');
  const l1 = first.history.map((h) => h.loss);
  const l2 = again.history.map((h) => h.loss);
  l1.forEach((v, i) => assert.ok(Math.abs(v - l2[i]!) < 1e-5 * Math.max(1, v), `epoch ${i}: loss ${v} vs ${l2[i]}`));
});

test('report.html is self-contained', () => {
  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  assert.ok(!/(src|href)=["']https?:/.test(html), 'no external resources');
  for (const s of ['Confusion', 'Trouser', 'data:image/png;base64']) assert.ok(html.includes(s), `report lacks ${s}`);
});

test('predict (onnxruntime) agrees with the saved TF.js model and reports unreadable files', async () => {
  const clf = await Classifier.load(out);
  const img = path.join(ds.test, 'Trouser', fs.readdirSync(path.join(ds.test, 'Trouser'))[0]!);
  const r = await clf.predictFiles([img, ds.bad[0]!, '/nonexistent/x.png'], { top: 2 });
  clf.dispose();
  assert.equal(r.predictions.length, 1);
  assert.equal(r.failed.length, 2);
  const p = r.predictions[0]!;
  assert.ok(Math.abs(p.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-4);
  assert.equal(p.top.length, 2);
});

test('eval reports accuracy, per-class metrics and a confusion matrix', async () => {
  const r = await evaluateModelDir(out, ds.test);
  assert.equal(r.count, 12);
  assert.equal(r.perClass.length, 3);
  assert.equal(r.confusion.length, 3);
  assert.equal(r.confusion.flat().reduce((a, b) => a + b, 0), 12);
  assert.ok(Math.abs(r.accuracy - Number(first.manifest.metrics.accuracy)) < 1e-9, 'ORT eval equals the training run\'s TF.js test accuracy');
});

test('artifacts load in plain @tensorflow/tfjs and plain onnxruntime-node and agree', async () => {
  const exp = tmpDir('graft-export-');
  await exportModelDir(out, 'tfjs', exp);
  await exportModelDir(out, 'onnx', exp);
  // Child processes that import no Graft code at all.
  const { tfjs, onnx } = plainRuntimes(exp);
  assert.equal(tfjs.length, 3);
  assert.ok(Math.abs(tfjs.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-4);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(tfjs[i] - onnx[i]) < 1e-4, `tfjs ${tfjs} vs onnx ${onnx}`);
});

test('fine-tune recipe: head, then the top block unfrozen at a lower rate', async () => {
  const r = await trainClassifier({ ...base, cacheDir: tmpDir(), out: path.join(tmpDir(), 'ft'), epochs: 2, fineTuneBlocks: 1, fineTuneEpochs: 1, report: false, onnx: false });
  // One backbone pass (to the fine-tune cut) per image: the head stage's features are computed
  // from those activations, not by a second pass to the head cut.
  assert.equal(r.backboneRuns, first.backboneRuns);
  const stages = (r.manifest.training.stages as { stage: string; lr: number; blocks?: string[] }[]).map((s) => s.stage);
  assert.deepEqual(stages, ['head', 'fine-tune']);
  const ft = (r.manifest.training.stages as { stage: string; lr: number; blocks?: string[] }[])[1]!;
  assert.ok(ft.lr < base.lr);
  assert.deepEqual(ft.blocks, ['top']);
  assert.equal(r.history.length, 3);
});

test("fine-tune 'all': after the head, the whole pretrained network trains on pixels, stem included", async () => {
  const r = await trainClassifier({ ...base, out: path.join(tmpDir(), 'ft-all'), epochs: 1, fineTuneBlocks: 'all', fineTuneEpochs: 1, report: false, onnx: false });
  type Stage = { stage: string; cut?: string | null; blocks?: string[]; groups?: { name: string; lrMultiplier: number }[] };
  const ft = (r.manifest.training.stages as Stage[])[1]!;
  assert.equal(ft.stage, 'fine-tune');
  assert.equal(ft.cut, null);
  assert.equal(ft.blocks!.length, 18, 'block_0..block_16 and top');
  const groups = new Map(ft.groups!.map((g) => [g.name, g.lrMultiplier]));
  // 18 blocks: the 0.5 decay is spread so the lowest block (and the stem) get 0.5^5 of the rate.
  assert.ok(Math.abs(groups.get('block_0')! - 0.5 ** 5) < 1e-9, `block_0 ×${groups.get('block_0')}`);
  assert.equal(groups.get('stem'), groups.get('block_0'));
  assert.ok(groups.get('top')! > groups.get('block_16')!);
  assert.equal(r.manifest.backbone.frozenUpTo, null);
  const saved = JSON.parse(fs.readFileSync(path.join(r.outDir, 'model.json'), 'utf8')) as { modelTopology: { config: { layers: { name: string; config: { trainable: boolean } }[] } } };
  const conv1 = saved.modelTopology.config.layers.find((l) => l.name === 'Conv1')!;
  assert.equal(conv1.config.trainable, true, 'the stem is recorded as trained');
  assert.equal(r.history.length, 2);
  assert.ok(Number.isFinite(r.evaluation.accuracy));
});

test('from scratch (--weights none): nothing frozen, reduced input size recorded', async () => {
  const r = await trainClassifier({ ...base, inputSize: undefined, weights: 'none', out: path.join(tmpDir(), 'scratch'), epochs: 1, report: false, onnx: false });
  assert.equal(r.manifest.backbone.frozenUpTo, null);
  assert.equal(r.manifest.inputSize[0], 32, 'Fashion-MNIST is 28 px: trained at the 32 px minimum');
  assert.equal(r.backboneRuns, 0);
});

test('augmentation: every epoch sees new pixels, so the frozen part runs per batch on ORT', async () => {
  const r = await trainClassifier({ ...base, out: path.join(tmpDir(), 'aug'), epochs: 2, augment: true, report: false, onnx: false });
  const train = Number(r.manifest.dataset.counts.train);
  // train+val+test once for the cached (unaugmented) features, plus train once per epoch, augmented.
  assert.ok(r.backboneRuns >= 2 * (train - 3), `backbone runs ${r.backboneRuns} for ${train} training images`);
  assert.equal(r.manifest.training.augment, true);
  assert.ok(fs.existsSync(path.join(r.outDir, 'train-log.jsonl')));
  const lines = fs.readFileSync(path.join(r.outDir, 'train-log.jsonl'), 'utf8').trim().split('\n');
  assert.equal(lines.length, 2, 'one JSON line per epoch');
  assert.ok(!fs.existsSync(`${r.outDir}.checkpoint`), 'checkpoint folder removed after success');
});

test('engines: onnxruntime training graphs and TF.js reach the same accuracy on the same run', async () => {
  const ort = await trainClassifier({ ...base, out: path.join(tmpDir(), 'e-ort'), engine: 'ort', report: false, onnx: false });
  const tfjs = await trainClassifier({ ...base, out: path.join(tmpDir(), 'e-tfjs'), engine: 'tfjs', report: false, onnx: false });
  assert.equal(ort.manifest.training.engine, 'ort');
  assert.equal(tfjs.manifest.training.engine, 'tfjs-wasm');
  assert.ok(Math.abs(Number(ort.manifest.metrics.accuracy) - Number(tfjs.manifest.metrics.accuracy)) <= 0.1);
  // Same seed, same data, same initial weights: the learning curves nearly coincide.
  const a = ort.history.at(-1)!.loss;
  const b = tfjs.history.at(-1)!.loss;
  assert.ok(Math.abs(a - b) / Math.max(a, b) < 0.05, `final loss ${a} vs ${b}`);
});

test('few-shot heads: --head prototype and knn need no gradient steps and export like any head', async () => {
  for (const head of ['prototype', 'knn'] as const) {
    const o2 = path.join(tmpDir(), head);
    const r = await trainClassifier({ ...base, out: o2, head, k: 3 });
    assert.equal(r.manifest.head.kind, head);
    assert.ok(Number(r.manifest.metrics.accuracy) >= 0.75, `${head} accuracy ${r.manifest.metrics.accuracy}`);
    const ev = await evaluateModelDir(o2, ds.test);
    assert.ok(Math.abs(ev.accuracy - Number(r.manifest.metrics.accuracy)) < 1e-9, 'model.onnx reproduces the TF.js head');
  }
  await assert.rejects(trainClassifier({ ...base, out: path.join(tmpDir(), 'x'), head: 'prototype', fineTuneBlocks: 1 }), /cannot be combined/);
});

test('chained transfer: a Graft model directory is the backbone of a new task', async () => {
  const other = makeDataset({ classes: ['Coat', 'Sandal'], perClass: 10, test: 4 });
  const r = await trainClassifier({ ...base, data: other.root, backbone: out, out: path.join(tmpDir(), 'chained'), epochs: 4 });
  assert.equal(r.manifest.backbone.kind, 'graft');
  assert.equal(r.manifest.backbone.name, 'mobilenet_v2');
  assert.equal(r.manifest.backbone.cut, readManifest(out).backbone.cut);
  assert.equal(r.manifest.preprocess, 'raw01');
  assert.deepEqual(r.manifest.classes, ['Coat', 'Sandal']);
  assert.ok(Number(r.manifest.metrics.accuracy) >= 0.75, `accuracy ${r.manifest.metrics.accuracy}`);
});
