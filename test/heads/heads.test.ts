import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { exportOnnx } from '../../src/engine/onnx/export.js';
import { buildHeadModel, headOnlyModel, knnHead, predictHead, prototypeHead, computePrototypes, fewShotHead } from '../../src/heads/index.js';
import type { FeatureSet } from '../../src/features/feature-set.js';

/** Deterministic uniform numbers in [0, 1). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `perClass` rows per class, shape [h, w, c] or [c]: ReLU-like (non-negative) features whose
 * class is in the direction of a few channels, plus a shared positive offset (which centring
 * removes) and noise. Separable by construction.
 */
function clusters(classes: number, perClass: number, shape: number[], seed: number): FeatureSet {
  const r = rng(seed);
  const c = shape[shape.length - 1]!;
  const spatial = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const n = classes * perClass;
  const d = spatial * c;
  const data = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const y = i % classes;
    labels[i] = y;
    for (let s = 0; s < spatial; s++) {
      for (let k = 0; k < c; k++) {
        const signal = k % classes === y ? 1.5 : 0;
        data[i * d + s * c + k] = 2 + signal + 0.3 * r() * (0.5 + r());
      }
    }
  }
  return { data, shape, labels, paths: labels.length ? Array.from(labels, (_, i) => `f${i}`) : [] };
}

function argmax(p: Float32Array, classes: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < p.length / classes; i++) {
    let b = 0;
    for (let j = 1; j < classes; j++) if (p[i * classes + j]! > p[i * classes + b]!) b = j;
    out.push(b);
  }
  return out;
}

async function runOrt(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const r = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    return r[s.outputNames[0]!]!.data as Float32Array;
  } finally {
    await s.release();
  }
}

test('prototype head: exact on separable features, and equals softmax(scale·cos) computed by hand', async () => {
  await initTf();
  const support = clusters(3, 4, [6], 1);
  const query = clusters(3, 10, [6], 2);
  const head = prototypeHead(support, 3, { scale: 10 });
  const model = headOnlyModel(head);
  const probs = predictHead(model, query);
  assert.deepEqual(argmax(probs, 3), Array.from(query.labels));
  // Reference: centre on the support mean, normalise, cosine with prototypes, softmax.
  const { prototypes, center, dim } = computePrototypes(support, 3);
  for (let i = 0; i < 5; i++) {
    const x = Array.from({ length: dim }, (_, k) => query.data[i * dim + k]! - center[k]!);
    const nx = Math.hypot(...x);
    const logits = [0, 1, 2].map((c) => 10 * x.reduce((s, v, k) => s + (v / nx) * prototypes[c * dim + k]!, 0));
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const z = e.reduce((a, b) => a + b, 0);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(probs[i * 3 + c]! - e[c]! / z) < 1e-4, `row ${i} class ${c}: ${probs[i * 3 + c]} vs ${e[c]! / z}`);
  }
  // Every prototype is a unit vector.
  for (let c = 0; c < 3; c++) assert.ok(Math.abs(Math.hypot(...prototypes.subarray(c * dim, (c + 1) * dim)) - 1) < 1e-5);
  model.dispose();
});

test('prototype and kNN heads on a 4-D cut: exported ONNX equals TF.js', async () => {
  await initTf();
  const support = clusters(3, 3, [2, 2, 5], 3);
  const query = clusters(3, 4, [2, 2, 5], 4);
  for (const head of [prototypeHead(support, 3), knnHead(support, 2, 3)]) {
    // A stand-in backbone: a Dense "feature layer" on a 4-D input, so the head sits after a cut.
    const x = tf.input({ shape: [2, 2, 5] });
    const feat = tf.layers.reLU({ name: 'features' }).apply(x) as tf.SymbolicTensor;
    const base = tf.model({ inputs: x, outputs: feat });
    const model = buildHeadModel(base, head);
    const n = query.labels.length;
    const tfjs = tf.tidy(() => (model.predict(tf.tensor(query.data, [n, 2, 2, 5])) as tf.Tensor).dataSync() as Float32Array);
    assert.deepEqual(argmax(tfjs, 3), Array.from(query.labels), `${head.kind} classifies the separable query`);
    const bytes = exportOnnx(model, { preprocess: 'none' });
    const onnx = await runOrt(bytes, query.data, [n, 2, 2, 5]);
    let diff = 0;
    for (let i = 0; i < tfjs.length; i++) diff = Math.max(diff, Math.abs(tfjs[i]! - onnx[i]!));
    assert.ok(diff < 1e-5, `${head.kind}: ONNX vs TF.js max |diff| = ${diff}`);
    // Probabilities sum to 1 in both heads (kNN: summed neighbour weights).
    for (let i = 0; i < n; i++) assert.ok(Math.abs(tfjs[i * 3]! + tfjs[i * 3 + 1]! + tfjs[i * 3 + 2]! - 1) < 1e-5);
    // The saved topology is stock TF.js: it round-trips through JSON without custom classes.
    const json = model.toJSON(null, false) as unknown as string;
    const loaded = await tf.models.modelFromJSON(JSON.parse(typeof json === 'string' ? json : JSON.stringify(json)));
    assert.equal(loaded.layers.length, model.layers.length);
    model.dispose();
  }
});

test('kNN head with k=1 reproduces nearest-neighbour labels; bad inputs are explained', async () => {
  await initTf();
  const support = clusters(4, 3, [8], 5);
  const query = clusters(4, 6, [8], 6);
  const head = knnHead(support, 1, 4);
  const p = predictHead(headOnlyModel(head), query);
  // Exact 1-NN by hand on centred, normalised rows.
  const dim = 8;
  const mean = new Float32Array(dim);
  for (let i = 0; i < support.labels.length; i++) for (let k = 0; k < dim; k++) mean[k] += support.data[i * dim + k]! / support.labels.length;
  const unit = (data: Float32Array, i: number) => {
    const v = Array.from({ length: dim }, (_, k) => data[i * dim + k]! - mean[k]!);
    const nv = Math.hypot(...v);
    return v.map((a) => a / nv);
  };
  const nn = Array.from(query.labels, (_, i) => {
    const q = unit(query.data, i);
    let best = -2;
    let lab = -1;
    for (let j = 0; j < support.labels.length; j++) {
      const s = unit(support.data, j).reduce((a, v, k) => a + v * q[k]!, 0);
      if (s > best) (best = s), (lab = support.labels[j]!);
    }
    return lab;
  });
  assert.deepEqual(argmax(p, 4), nn);
  assert.throws(() => fewShotHead('knn', support, 4, { k: 0 }), /k must be a positive integer/);
  assert.throws(() => prototypeHead({ ...support, labels: support.labels.map((l) => (l === 3 ? 0 : l)) }, 4), /at least one example per class/);
});
