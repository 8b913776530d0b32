import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { createModel } from '../../src/zoo/registry.js';
import { exportOnnx } from '../../src/engine/onnx/export.js';
import { saveModelAsKerasH5 } from '../../src/weights/keras-h5.js';
import { env, refreshEnv } from '../../src/env.js';
import { openBackbone, backboneKind, type BackboneKind } from '../../src/backbones/index.js';
import { trainClassifier } from '../../src/workflow/train.js';
import { embedImages } from '../../src/workflow/embed.js';
import { findLearningRate } from '../../src/workflow/lr-find.js';
import { learningCurve } from '../../src/workflow/curve.js';
import { shiftReport } from '../../src/adapt/shift.js';
import { isGraftError } from '../../src/errors.js';
import type { GraftEvent } from '../../src/events.js';
import { makeDataset, tmpDir } from '../workflow/fixtures.js';

// One small dataset, and one backbone of each kind: a zoo name, a user's .onnx file (the same
// network exported without Graft's preprocessing) and a Graft model directory trained on it.
const ds = makeDataset({ classes: ['Trouser', 'Bag', 'Sneaker'], perClass: 6, test: 3 });
const dir = tmpDir('graft-bb-kinds-');
const cache = path.join(dir, 'cache');
const onnxFile = path.join(dir, 'user.onnx');
const graftDir = path.join(dir, 'graft-model');
const refs: Record<BackboneKind, string> = { zoo: 'mobilenet_v2', onnx: onnxFile, graft: graftDir };
// Each kind at 96 px (zoo: inputSize; ONNX: the file's own size; Graft: the model's size).
const optsOf = (kind: BackboneKind) => (kind === 'zoo' ? { inputSize: 96 } : kind === 'onnx' ? { preprocess: 'raw01' as const } : {});

let ready: Promise<void> | undefined;
function setup(): Promise<void> {
  return (ready ??= (async () => {
    await initTf();
    const { model } = await createModel('mobilenet_v2', { weights: 'nsfwjs', includeTop: false, inputShape: [96, 96, 3], pooling: null });
    fs.writeFileSync(onnxFile, exportOnnx(model, { name: 'user_backbone' }));
    model.dispose();
    await trainClassifier({ data: ds.root, out: graftDir, inputSize: 96, epochs: 1, batchSize: 8, report: false, onnx: false, cacheDir: cache, quiet: true });
  })());
}

test('backboneKind tells the three kinds apart', async () => {
  await setup();
  assert.deepEqual(Object.values(refs).map(backboneKind), ['zoo', 'onnx', 'graft']);
});

for (const kind of ['zoo', 'onnx', 'graft'] as const) {
  test(`openBackbone (${kind}): size, preprocessing, cut, a base for a head and one cache key`, async () => {
    await setup();
    const bb = await openBackbone(refs[kind], { ...optsOf(kind), cacheDir: cache });
    try {
      assert.equal(bb.kind, kind);
      assert.deepEqual(bb.inputSize, [96, 96]);
      assert.equal(bb.preprocess, 'raw01');
      assert.equal(bb.cacheKey().cut, bb.cut);
      assert.ok(bb.cacheKey().backbone.endsWith('@graft-exporter'));
      assert.match(bb.cacheKey().weights, /^[0-9a-f]{64}$/);
      const ex = bb.extractor({ pooling: 'avg' });
      assert.deepEqual(ex.outputShape, [1280]);
      const rows = await ex.run(new Float32Array(96 * 96 * 3).fill(128), 1);
      assert.equal(rows.length, 1280);
      assert.ok(rows.every(Number.isFinite));
    } finally {
      bb.dispose();
    }
  });

  test(`embed (${kind}): pooled vectors from every backbone kind`, async () => {
    await setup();
    const r = await embedImages([path.join(ds.test, 'Bag')], { backbone: refs[kind], ...optsOf(kind), cacheDir: cache });
    assert.equal(r.embeddings.length, 3);
    assert.equal(r.dims, 1280);
    assert.equal(r.failed.length, 0);
  });

  test(`lr-find (${kind}): a suggestion on every backbone kind`, async () => {
    await setup();
    const r = await findLearningRate({ data: ds.root, out: '(lr-find)', backbone: refs[kind], ...optsOf(kind), batchSize: 4, cacheDir: cache, quiet: true }, { steps: 12 });
    assert.ok(r.suggestion > 0 && Number.isFinite(r.suggestion));
    assert.ok(r.lrs.length >= 2);
  });

  test(`shift (${kind}): the same folder twice shows no shift`, async () => {
    await setup();
    const folder = path.join(ds.train, 'Sneaker');
    const r = await shiftReport(refs[kind], folder, folder, { ...optsOf(kind), permutations: 20, cacheDir: cache });
    assert.equal(r.verdict, 'no detectable shift');
    assert.equal(r.counts.a, 6);
  });

  test(`curve (${kind}): few-shot and head points from every backbone kind`, async () => {
    await setup();
    const r = await learningCurve({ train: ds.train, test: ds.test, backbone: refs[kind], budgets: [2], seeds: 1, methods: ['prototype', 'head'], epochs: 1, minSteps: 2, cacheDir: cache });
    assert.deepEqual(r.points.map((p) => p.method), ['prototype', 'head']);
    for (const p of r.points) assert.ok(p.accuracy >= 0 && p.accuracy <= 1);
  });
}

test('embed --cut works for zoo backbones (block_13: 160 channels); options that do not apply are errors', async () => {
  await setup();
  const r = await embedImages([path.join(ds.test, 'Bag')], { backbone: 'mobilenet_v2', cut: 'block_13', inputSize: 96, cacheDir: cache });
  assert.equal(r.dims, 160);
  assert.equal(r.cut, 'block_13');
  await assert.rejects(embedImages([ds.test], { backbone: graftDir, cut: 'block_13' }), (e) => isGraftError(e) && e.code === 'E_BAD_OPTIONS' && /--cut does not apply/.test(e.message));
  await assert.rejects(embedImages([ds.test], { backbone: onnxFile, weights: 'imagenet' }), (e) => isGraftError(e) && e.code === 'E_BAD_OPTIONS' && /--weights applies to zoo backbones only/.test(e.message));
});

test('a weight download reaches the caller as progress events (initiate → progress → done)', async () => {
  await initTf();
  const { model } = await createModel('mobilenet_v2', { weights: 'nsfwjs', includeTop: false, inputShape: [96, 96, 3], pooling: null });
  const h5 = path.join(dir, 'served.h5');
  await saveModelAsKerasH5(model, h5);
  model.dispose();
  const server = http.createServer((req, res) => {
    const body = fs.readFileSync(h5);
    res.writeHead(200, { 'content-length': body.length });
    // Two writes, so there is progress between initiate and done.
    res.write(body.subarray(0, body.length >> 1));
    setTimeout(() => res.end(body.subarray(body.length >> 1)), 20);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mnv2.h5`;
  env.allowDownload = true;
  const events: GraftEvent[] = [];
  try {
    const bb = await openBackbone('mobilenet_v2', { weights: url, inputSize: 96, onEvent: (e) => events.push(e) });
    bb.dispose();
  } finally {
    refreshEnv();
    server.close();
  }
  const dl = events.filter((e) => 'task' in e && e.task === 'download');
  assert.equal(dl[0]?.type, 'initiate');
  assert.equal(dl.at(-1)?.type, 'done');
  assert.ok(dl.some((e) => e.type === 'progress'), 'progress between initiate and done');
  assert.equal((dl.at(-1) as { loaded: number }).loaded, fs.statSync(h5).size);
});

test('trainClassifier --log: every event, progress included, also lands in a JSON-lines file', async () => {
  await setup();
  const log = path.join(dir, 'events.jsonl');
  const seen: GraftEvent[] = [];
  await trainClassifier({ data: ds.root, out: path.join(dir, 'logged'), inputSize: 96, epochs: 1, batchSize: 8, report: false, onnx: false, cacheDir: cache, quiet: true, log }, (e) => seen.push(e));
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.match(String(lines[0]!.log), /generator: graft/);
  assert.equal(lines.length - 1, seen.length, 'the log and the callback saw the same events');
  assert.ok(lines.some((l) => l.type === 'stage'));
  assert.ok(lines.some((l) => l.type === 'done' && l.task === 'extract'));
});

test('adapt: a model trained on an ONNX backbone is refused with a clear error', async () => {
  await setup();
  const { adaptModel } = await import('../../src/adapt/adapt.js');
  const m = path.join(dir, 'onnx-model');
  await trainClassifier({ data: ds.root, out: m, backbone: onnxFile, preprocess: 'raw01', epochs: 1, batchSize: 8, report: false, onnx: false, cacheDir: cache, quiet: true });
  await assert.rejects(adaptModel(m, { target: path.join(ds.test, 'Bag'), method: 'adabn', out: path.join(dir, 'adapted'), cacheDir: cache }), (e) => isGraftError(e) && e.code === 'E_ADAPT_ONNX_BACKBONE');
});
