import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { createOrtEngine } from '../../src/engine/ort-train/index.js';
import { isGraftError } from '../../src/errors.js';
import type { EngineOptions, StepBatch, TrainingEngine } from '../../src/train/engine.js';
import { createTfjsEngine } from '../../src/engine/tfjs/engine.js';
import { denseHead, images, mobileTop, rand, relErr } from './ort-train-helpers.js';
import { separableBatch } from '../helpers/rand.js';

const TOL = 1e-4;

/** Runs the same steps on both engines (each on its own copy of the model) and compares everything. */
async function compare(label: string, build: () => tf.LayersModel, opts: EngineOptions, batches: StepBatch[], lrs: number[]): Promise<void> {
  const [a, b] = [build(), build()];
  const ref = await createTfjsEngine(a, opts);
  const ort = await createOrtEngine(b, opts);
  for (let s = 0; s < lrs.length; s++) {
    const batch = batches[s % batches.length];
    const r1 = await ref.trainStep(batch, lrs[s]);
    const r2 = await ort.trainStep(batch, lrs[s]);
    assert.ok(Math.abs(r1.loss - r2.loss) <= TOL * Math.abs(r1.loss), `${label} step ${s}: loss ${r2.loss} vs TF.js ${r1.loss}`);
    assert.equal(r2.correct, r1.correct, `${label} step ${s}: correct`);
  }
  const [w1, w2] = [ref.getWeights(), ort.getWeights()];
  a.weights.forEach((w, i) => assert.ok(relErr(w1[i], w2[i]) <= TOL, `${label}: weight ${w.name} differs by ${relErr(w1[i], w2[i])} (relative)`));
  const probe = batches[0];
  assert.ok(relErr(await ref.predict(probe.x, probe.xShape), await ort.predict(probe.x, probe.xShape)) <= TOL, `${label}: predict`);
  const [e1, e2] = [await ref.evaluate(probe), await ort.evaluate(probe)];
  assert.ok(Math.abs(e1.loss - e2.loss) <= TOL * e1.loss && e1.correct === e2.correct, `${label}: evaluate ${JSON.stringify(e2)} vs ${JSON.stringify(e1)}`);
  // syncToModel writes the trained weights into the TF.js model: TF.js inference now agrees.
  await ort.syncToModel();
  const viaTf = tf.tidy(() => (b.predict(tf.tensor(probe.x, probe.xShape)) as tf.Tensor).dataSync() as Float32Array);
  assert.ok(relErr(viaTf, await ort.predict(probe.x, probe.xShape)) <= TOL, `${label}: TF.js model after syncToModel`);
  ref.dispose();
  ort.dispose();
}

const features = (n: number, d: number, classes: number, seed: number): StepBatch => separableBatch(n, d, classes, seed);

test('dense head: one engine step equals TF.js (sgd+momentum, adam, adamw with groups, smoothing, class weights)', async () => {
  await initTf('cpu');
  const batches = [features(8, 10, 4, 1), features(8, 10, 4, 2)];
  const build = () => denseHead(10, 4, 3);
  await compare('sgd', build, { optimizer: { type: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-3 } }, batches, [0.1, 0.05, 0.1]);
  await compare('adam', build, { optimizer: { type: 'adam', lr: 1e-2 }, labelSmoothing: 0.1, classWeights: [1, 2, 0.5, 1] }, batches, [1e-2, 1e-2, 5e-3]);
  await compare('adamw+groups', build, { optimizer: { type: 'adamw', lr: 1e-2, weightDecay: 0.05 }, groups: [{ name: 'body', layers: ['hidden'], lrMultiplier: 0.1 }] }, batches, [1e-2, 0, 1e-2]);
});

test('MobileNetV2-style top (conv1x1+BN+ReLU6+dw3x3+BN+ReLU6+conv1x1+BN, residual, GAP, Dense) equals TF.js', async () => {
  await initTf('cpu');
  const batches = [images(6, 6, 6, 8, 3, 1), images(6, 6, 6, 8, 3, 2)];
  await compare('sgd', () => mobileTop(8, 3, 10), { optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 } }, batches, [0.05, 0.05]);
  await compare('adam', () => mobileTop(8, 3, 10), { optimizer: { type: 'adam', lr: 1e-3 } }, batches, [1e-3, 1e-3]);
  await compare('frozen BN inside', () => mobileTop(8, 3, 20, { frozenFirstBn: true }), { optimizer: { type: 'adam', lr: 1e-3 } }, batches, [1e-3, 1e-3]);
  await compare('BN stats off', () => mobileTop(8, 3, 30), { optimizer: { type: 'sgd', lr: 0.05 }, trainBatchNormStats: false }, batches, [0.05]);
});

test('an unsupported layer fails with E_ORT_TRAIN_UNSUPPORTED naming it', async () => {
  await initTf('cpu');
  const inp = tf.input({ shape: [6, 6, 3] });
  const h = tf.layers.separableConv2d({ filters: 4, kernelSize: 3, name: 'my_sep' }).apply(inp) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2 }).apply(tf.layers.flatten().apply(h)) as tf.SymbolicTensor;
  await assert.rejects(createOrtEngine(tf.model({ inputs: inp, outputs: out }), { optimizer: { type: 'sgd', lr: 0.1 } }), (e) => isGraftError(e) && e.code === 'E_ORT_TRAIN_UNSUPPORTED' && e.message.includes('my_sep'));
});

test('dropout masks come from the seed: same seed, same run; inference ignores dropout', async () => {
  await initTf('cpu');
  const batch = features(16, 10, 3, 4);
  const run = async (seed: number) => {
    const e = await createOrtEngine(denseHead(10, 3, 5, 0.5), { optimizer: { type: 'sgd', lr: 0.1 }, seed });
    const losses = [(await e.trainStep(batch, 0)).loss, (await e.trainStep(batch, 0)).loss];
    const ev = (await e.evaluate(batch)).loss;
    e.dispose();
    return { losses, ev };
  };
  const [r1, r2, r3] = [await run(1), await run(1), await run(2)];
  assert.deepEqual(r1, r2);
  assert.notEqual(r1.losses[0], r1.losses[1], 'a fresh mask each step');
  assert.notEqual(r1.losses[0], r3.losses[0], 'another seed, other masks');
  assert.equal(r1.ev, r3.ev);
});

test('dropout with noiseShape [null, 1, 1, 1] (EfficientNet drop-connect) drops whole samples', async () => {
  await initTf('cpu');
  const inp = tf.input({ shape: [3, 3, 2] });
  const dropped = tf.layers.dropout({ rate: 0.5, noiseShape: [null, 1, 1, 1] as unknown as number[] }).apply(inp) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.randomNormal({ seed: 3 }) }).apply(tf.layers.flatten().apply(dropped)) as tf.SymbolicTensor;
  const e = await createOrtEngine(tf.model({ inputs: inp, outputs: out }), { optimizer: { type: 'sgd', lr: 0.1 }, seed: 5 });
  // n copies of one sample: a per-sample mask gives a batch loss of (k·L(2x) + (n−k)·L(0))/n.
  const n = 8;
  const one = rand(18, 9);
  const batchOf = (scale: number): StepBatch => ({ x: Float32Array.from({ length: n * 18 }, (_, i) => scale * one[i % 18]), xShape: [n, 3, 3, 2], y: new Int32Array(n).fill(1) });
  const [l0, l2] = [(await e.evaluate(batchOf(0))).loss, (await e.evaluate(batchOf(2))).loss];
  const ks = new Set<number>();
  for (let s = 0; s < 6; s++) {
    const loss = (await e.trainStep(batchOf(1), 0)).loss;
    const k = ((loss - l0) * n) / (l2 - l0);
    assert.ok(Math.abs(k - Math.round(k)) < 1e-3, `step ${s}: loss ${loss} is not a mix of whole kept/dropped samples (k = ${k})`);
    ks.add(Math.round(k));
  }
  assert.ok(ks.size > 1, 'masks change between steps');
  e.dispose();
});

async function accuracy(e: TrainingEngine, b: StepBatch): Promise<number> {
  return (await e.evaluate(b)).correct / b.y.length;
}

test('a short fixed-seed run converges like the TF.js engine; setWeights restores a snapshot', async () => {
  await initTf('cpu');
  const train = [0, 1, 2, 3].map((s) => images(12, 6, 6, 8, 4, 10 + s));
  const held = images(24, 6, 6, 8, 4, 99); // chance: 0.25
  const opts: EngineOptions = { optimizer: { type: 'adam', lr: 3e-3 } };
  const engines = [await createTfjsEngine(mobileTop(8, 4, 40), opts), await createOrtEngine(mobileTop(8, 4, 40), opts)];
  const start = await engines[1].evaluate(held);
  const snapshot = engines[1].getWeights();
  for (let s = 0; s < 24; s++) for (const e of engines) await e.trainStep(train[s % train.length], 3e-3);
  const [accTf, accOrt] = [await accuracy(engines[0], held), await accuracy(engines[1], held)];
  assert.ok(accOrt >= 0.6 && Math.abs(accTf - accOrt) <= 0.1, `held-out accuracy ORT ${accOrt}, TF.js ${accTf}`);
  const end = (await engines[1].evaluate(held)).loss;
  assert.ok(end < 0.8 * start.loss, `held-out loss ${start.loss} → ${end}`);
  engines[1].setWeights(snapshot);
  assert.equal((await engines[1].evaluate(held)).loss, start.loss);
  for (const e of engines) e.dispose();
});
