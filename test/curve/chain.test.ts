import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { trainClassifier } from '../../src/workflow/train.js';
import { resolveGraftBackbone, isGraftModelDir } from '../../src/backbones/graft-dir.js';
import { learningCurve } from '../../src/workflow/curve.js';
import { openBackbone } from '../../src/backbones/index.js';
import { decodeImage } from '../../src/data/decode.js';
import { makeDataset, tmpDir } from '../workflow/fixtures.js';

test('a model trained on classes A is the backbone for classes B: cut, preprocessing and weights hash are right', async () => {
  const a = makeDataset({ classes: ['Trouser', 'Bag'], perClass: 6, test: 2 });
  const b = makeDataset({ classes: ['Sneaker', 'Dress', 'Sandal'], perClass: 4, test: 3 });
  const cache = tmpDir('graft-chain-cache-');
  const out = path.join(tmpDir('graft-chain-'), 'source');
  await trainClassifier({ data: a.train, val: a.test, out, epochs: 1, inputSize: 96, report: false, onnx: false, quiet: true, cacheDir: cache });
  assert.ok(isGraftModelDir(out));
  assert.ok(!isGraftModelDir(a.train));
  await assert.rejects(resolveGraftBackbone(a.train), /must be a model directory holding graft\.json/);

  const g = await resolveGraftBackbone(out);
  try {
    assert.equal(g.cut, 'out_relu');
    assert.equal(g.architecture, 'mobilenet_v2');
    assert.ok(g.spec, 'zoo spec found, so block names still work');
    assert.deepEqual(g.inputSize, [96, 96]);
    assert.equal(g.preprocess, 'raw01');
    assert.equal(g.weightsHash, crypto.createHash('sha256').update(fs.readFileSync(path.join(out, 'weights.bin'))).digest('hex'));
    assert.deepEqual(g.model.outputs[0]!.shape, [null, 3, 3, 1280]);
    assert.ok(!g.model.layers.some((l) => l.name.startsWith('graft_head_')), 'the source head is cut off');

    // The ORT backbone used for chained features equals the cut TF.js model on preprocessed pixels.
    const img = await decodeImage(path.join(b.train, 'Sneaker', fs.readdirSync(path.join(b.train, 'Sneaker'))[0]!), { size: [96, 96], fit: 'crop' });
    assert.ok(img.ok);
    const raw = Float32Array.from(img.data);
    const fb = await openBackbone(out, { cacheDir: cache });
    try {
      assert.equal(fb.cacheKey().weights, g.weightsHash);
      const ort = await fb.extractor().run(raw, 1);
      const ref = tf.tidy(() => (g.model.predict(tf.tensor(raw, [1, 96, 96, 3]).div(255)) as tf.Tensor).dataSync() as Float32Array);
      let diff = 0;
      for (let i = 0; i < ref.length; i++) diff = Math.max(diff, Math.abs(ref[i]! - ort[i]!));
      assert.ok(diff < 1e-3, `ORT vs TF.js max |diff| ${diff}`);
    } finally {
      fb.dispose();
    }
  } finally {
    g.full.dispose();
  }

  // And it trains classes B through the learning-curve path (few-shot + trained head).
  const r = await learningCurve({ train: b.train, test: b.test, backbone: out, budgets: [2], seeds: 1, methods: ['prototype', 'head', 'fine-tune'], epochs: 1, minSteps: 2, cacheDir: cache });
  assert.deepEqual(r.points.map((p) => p.method), ['prototype', 'head'], 'fine-tune is skipped (needs trainClassifier support)');
  assert.deepEqual(r.classes, ['Dress', 'Sandal', 'Sneaker']);
  assert.equal(r.backbone.featureImages, 12 + 9, 'every pool and test image ran through the chained backbone once');
});
