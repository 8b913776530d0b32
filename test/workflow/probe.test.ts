import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { trainClassifier } from '../../src/workflow/train.js';
import { evaluateModelDir } from '../../src/workflow/evaluate.js';
import { candidateCuts } from '../../src/backbones/index.js';
import { getModelSpec } from '../../src/zoo/registry.js';
import { makeDataset, plainRuntimes, tmpDir } from './fixtures.js';

// The default recipe, exactly as a user gets it: no epochs, no rate, no cut, no head kind.
const ds = makeDataset({ classes: ['Trouser', 'Bag', 'Sneaker'], perClass: 8, test: 4 });
const cache = tmpDir('graft-probe-cache-');

type Stage = { stage: string; protocol: string; folds: number; rounds: number; candidates: { cuts: string[]; head: string; accuracy: number; sd: number; C?: number; combine?: string }[]; chosen: { cuts: string[]; head: string; accuracy: number; combine?: string }; converged?: boolean };

test('default train: the cut and the head are chosen by cross-validation and recorded; every label is trained on', async () => {
  const out = path.join(tmpDir(), 'model');
  const r = await trainClassifier({ data: ds.root, out, inputSize: 96, cacheDir: cache, quiet: true });
  const m = r.manifest;
  const probe = (m.training.stages as Stage[])[0]!;
  assert.equal(probe.stage, 'probe');
  assert.equal(probe.protocol, 'cv');
  assert.equal(probe.rounds, 3);
  assert.equal(probe.folds, 15, '3 rounds of 5 folds');
  const cuts = candidateCuts(getModelSpec('mobilenet_v2'));
  for (const c of cuts) assert.ok(probe.candidates.some((s) => s.cuts.length === 1 && s.cuts[0] === c && s.head === 'linear'), `candidate ${c} scored`);
  assert.ok(probe.candidates.some((s) => s.cuts.length === 2 && !s.combine), 'the best two concatenated were scored too');
  const ens = probe.candidates.find((s) => s.combine === 'ensemble');
  assert.deepEqual(ens?.cuts, cuts, 'the all-cut ensemble was scored');
  assert.ok(m.backbone.cut.split('+').every((c) => cuts.includes(c)), `cut ${m.backbone.cut}`);
  assert.ok(['linear', 'prototype'].includes(m.head.kind));
  // The ensemble unless the best candidate beats it by more than one standard error.
  const best = probe.candidates.reduce((a, b) => (b.accuracy > a.accuracy + 1e-9 ? b : a));
  const expected = ens!.accuracy >= best.accuracy - best.sd / Math.sqrt(probe.folds) ? ens! : best;
  assert.deepEqual(probe.chosen, expected, 'the chosen configuration follows the one-standard-error rule');
  assert.deepEqual((m.metrics.cv as { accuracy: number }).accuracy, probe.chosen.accuracy);
  assert.equal(m.metrics.split, 'test');
  assert.equal(r.history.length, 0, 'no epochs: the head is solved');
  assert.equal((probe as unknown as { fineTune: { tried: boolean; why: string } }).fineTune.tried, false);
  assert.match((probe as unknown as { fineTune: { why: string } }).fineTune.why, /24 labelled images; it is tried from 1000/);
  // The exported ONNX pipeline reproduces the run's test accuracy.
  const ev = await evaluateModelDir(out, ds.test);
  assert.ok(Math.abs(ev.accuracy - Number(m.metrics.accuracy)) < 1e-9, `onnx ${ev.accuracy} vs ${m.metrics.accuracy}`);
  // Trouser, bag and sneaker are far apart for any useful feature: the default gets them right.
  assert.ok(Number(m.metrics.accuracy) >= 0.9, `test accuracy ${m.metrics.accuracy}`);

  // Child processes that import no Graft code at all.
  const { tfjs, onnx } = plainRuntimes(out);
  assert.equal(tfjs.length, 3);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(tfjs[i] - onnx[i]) < 1e-4, `tfjs ${tfjs} vs onnx ${onnx}`);
});

test('default train without a test set reports out-of-fold accuracy, and a seeded run repeats', async () => {
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const out = path.join(tmpDir(), `m${i}`);
    runs.push(await trainClassifier({ data: ds.train, out, inputSize: 96, cacheDir: cache, quiet: true }));
  }
  const [a, b] = runs as [Awaited<ReturnType<typeof trainClassifier>>, Awaited<ReturnType<typeof trainClassifier>>];
  assert.equal(a.manifest.metrics.split, 'cross-validation (out of fold)');
  assert.equal(a.manifest.metrics.count, 24, 'every labelled image predicted once, held out');
  assert.equal(a.manifest.dataset.counts.train + a.manifest.dataset.counts.val, 24);
  assert.equal(a.manifest.backbone.cut, b.manifest.backbone.cut);
  assert.equal(a.manifest.metrics.accuracy, b.manifest.metrics.accuracy);
  assert.deepEqual(fs.readFileSync(path.join(a.outDir, 'weights.bin')), fs.readFileSync(path.join(b.outDir, 'weights.bin')));
});

test('an explicit --cut is kept (no search); --head linear with --epochs is refused', async () => {
  const r = await trainClassifier({ data: ds.root, out: path.join(tmpDir(), 'cut'), inputSize: 96, cut: 'block_13', cacheDir: cache, quiet: true, report: false });
  const probe = (r.manifest.training.stages as Stage[])[0]!;
  assert.deepEqual([...new Set(probe.candidates.map((s) => s.cuts.join('+')))], ['block_13']);
  assert.equal(r.manifest.backbone.cut, 'block_13');
  await assert.rejects(trainClassifier({ data: ds.root, out: path.join(tmpDir(), 'x'), head: 'linear', epochs: 3, quiet: true }), (e: Error & { code?: string }) => e.code === 'E_BAD_OPTIONS');
});

test('seeded --augment runs repeat exactly (each image draws from its own generators)', async () => {
  const w: Buffer[] = [];
  for (let i = 0; i < 2; i++) {
    const r = await trainClassifier({ data: ds.root, out: path.join(tmpDir(), `aug${i}`), inputSize: 96, augment: true, epochs: 2, batchSize: 8, cacheDir: cache, quiet: true, report: false, onnx: false });
    w.push(fs.readFileSync(path.join(r.outDir, 'weights.bin')));
  }
  assert.ok(w[0]!.equals(w[1]!), 'same seed, same augmented pixels, same weights');
});

test('--time-budget: the default search keeps what it scored in time, gradient training stops at the first epoch past it; both say so', async () => {
  // A budget spent before the search starts: one candidate cut scored, the network's own.
  const quick = await trainClassifier({ data: ds.train, out: path.join(tmpDir(), 'tb'), inputSize: 96, cacheDir: cache, quiet: true, timeBudget: 0.001, report: false });
  const stages = quick.manifest.training.stages as { stage: string; note: string; candidates: { cuts: string[] }[] }[];
  const stage = stages.find((s) => s.stage === 'probe');
  assert.ok(stage, JSON.stringify(quick.manifest.training));
  assert.match(stage.note, /time budget reached after 1 of \d+ candidate cuts/);
  assert.equal(new Set(stage.candidates.map((c) => c.cuts.join('+'))).size, 1);
  const seen: string[] = [];
  const grad = await trainClassifier({ data: ds.train, out: path.join(tmpDir(), 'tb2'), inputSize: 96, cacheDir: cache, quiet: true, head: 'dense', epochs: 500, timeBudget: 0.001, report: false, onnx: false }, (e) => 'message' in e && seen.push(e.message));
  assert.equal(grad.history.length, 1, 'stopped after the first epoch');
  assert.ok(seen.some((m) => /time budget of 0\.001 s reached/.test(m)), seen.join(' | '));
});
