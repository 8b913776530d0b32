import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { createModel } from '../../src/zoo/registry.js';
import { exportOnnx } from '../../src/engine/onnx/export.js';
import { trainClassifier } from '../../src/workflow/train.js';
import { evaluateModelDir } from '../../src/workflow/evaluate.js';
import { exportModelDir } from '../../src/workflow/export.js';
import { makeDataset, tmpDir } from './fixtures.js';

test("a user's ONNX model serves as a frozen backbone; model.onnx is the whole pipeline", async () => {
  await initTf();
  // A "user" ONNX file: the nsfwjs MobileNetV2 body, exported without Graft's preprocessing, so it
  // expects pixels / 255 like the original.
  const { model } = await createModel('mobilenet_v2', { weights: 'nsfwjs', includeTop: false, inputShape: [96, 96, 3], pooling: null });
  const dir = tmpDir('graft-onnx-bb-');
  const file = path.join(dir, 'user-backbone.onnx');
  fs.writeFileSync(file, exportOnnx(model, { name: 'user_backbone' }));
  model.dispose();

  const ds = makeDataset({ classes: ['Trouser', 'Bag', 'Sneaker'], perClass: 10, test: 4 });
  const out = path.join(dir, 'model');
  const r = await trainClassifier({ data: ds.root, out, backbone: file, preprocess: 'raw01', epochs: 6, lr: 3e-3, batchSize: 8, seed: 5, cacheDir: path.join(dir, 'cache'), quiet: true });
  assert.equal(r.manifest.backbone.kind, 'onnx');
  assert.equal(r.manifest.files.tfjsInput, 'features');
  assert.ok(Number(r.manifest.metrics.accuracy) >= 0.75, `accuracy ${r.manifest.metrics.accuracy}`);

  // The composed graph (preprocess → user backbone → head) reproduces the training run's numbers.
  const ev = await evaluateModelDir(out, ds.test);
  assert.ok(Math.abs(ev.accuracy - Number(r.manifest.metrics.accuracy)) < 1e-9);

  const x = tmpDir('graft-onnx-export-');
  await exportModelDir(out, 'onnx', x);
  assert.deepEqual(fs.readFileSync(path.join(x, 'model.onnx')), fs.readFileSync(path.join(out, 'model.onnx')));

  await assert.rejects(
    trainClassifier({ data: ds.root, out: path.join(dir, 'ft'), backbone: file, fineTuneBlocks: 1, quiet: true }),
    (e: Error & { code?: string }) => e.code === 'E_ONNX_FROZEN_ONLY',
  );
});

test('embed with an ONNX backbone equals embed with the same zoo network', async () => {
  const { embedImages } = await import('../../src/workflow/embed.js');
  await initTf();
  const { model } = await createModel('mobilenet_v2', { weights: 'nsfwjs', includeTop: false, inputShape: [96, 96, 3], pooling: null });
  const file = path.join(tmpDir('graft-onnx-embed-'), 'mnv2.onnx');
  fs.writeFileSync(file, exportOnnx(model));
  model.dispose();
  const ds = makeDataset({ classes: ['Bag', 'Trouser'], perClass: 2, test: 2 });
  const a = await embedImages([ds.test], { backbone: file, preprocess: 'raw01' });
  const b = await embedImages([ds.test], { backbone: 'mobilenet_v2', weights: 'nsfwjs', inputSize: 96 });
  assert.equal(a.embeddings.length, 4);
  assert.equal(a.dims, 1280);
  let max = 0;
  a.embeddings.forEach((e, i) => e.embedding.forEach((v, k) => (max = Math.max(max, Math.abs(v - b.embeddings[i]!.embedding[k]!)))));
  assert.ok(max < 1e-4, `max diff ${max}`);
});
