import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initTf, tf } from '../../src/engine/tfjs/backend.js';
import { fileSaveHandler } from '../../src/io/tfjs-files.js';
import { isGraftError } from '../../src/errors.js';
import { applyWeights } from '../../src/weights/index.js';
import { loadTfjsWeightsByName } from '../../src/weights/tfjs-layers.js';
import type { ArchitectureSpec } from '../../src/zoo/types.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-tfjs-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function tiny(units = 3): tf.LayersModel {
  const i = tf.input({ shape: [6, 6, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv1' }).apply(i) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units, name: 'head' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: i, outputs: x });
}

test('TF.js model.json: weights load by layer name into another instance; sha256 recorded', async () => {
  await initTf();
  const a = tiny();
  for (const l of a.layers) if (l.weights.length) l.setWeights(l.getWeights().map((w, k) => tf.randomUniform(w.shape, 0.5, 1.5, 'float32', k + 11)));
  const json = path.join(tmp, 'a', 'model.json');
  await a.save(fileSaveHandler(json));
  const b = tiny();
  const r = loadTfjsWeightsByName(b, json);
  assert.deepEqual(r.loaded, ['conv1', 'bn1', 'head']);
  assert.match(r.sha256, /^[0-9a-f]{64}$/);
  const x = tf.randomUniform([1, 6, 6, 3], 0, 1, 'float32', 5);
  assert.deepEqual(Array.from((b.predict(x) as tf.Tensor).dataSync()), Array.from((a.predict(x) as tf.Tensor).dataSync()));

  const spec = { name: 'tiny', pretrained: {} } as unknown as ArchitectureSpec;
  const c = tiny(5);
  await assert.rejects(applyWeights(c, spec, { weights: json }), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_MISMATCH' && /head/.test(e.message));
  const info = await applyWeights(c, spec, { weights: json, skipMismatch: true });
  assert.equal(info.file, json);
  assert.equal(info.sha256, r.sha256);
  assert.equal(info.skipped.length, 1);
  assert.match(info.skipped[0], /"head"/);
});
