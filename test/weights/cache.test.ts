import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { env, refreshEnv } from '../../src/env.js';
import { isGraftError } from '../../src/errors.js';
import { initTf, tf } from '../../src/engine/tfjs/backend.js';
import { fetchWeights, detectHashAlgo, type DownloadProgressEvent } from '../../src/weights/cache.js';
import { IMAGENET_WEIGHTS, imagenetWeightFile } from '../../src/weights/imagenet.js';
import { saveModelAsKerasH5 } from '../../src/weights/keras-h5.js';
import { applyWeights } from '../../src/weights/index.js';
import type { ArchitectureSpec } from '../../src/zoo/types.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-cache-'));
const payload = crypto.randomBytes(300_000);
const md5 = crypto.createHash('md5').update(payload).digest('hex');
const sha256 = crypto.createHash('sha256').update(payload).digest('hex');
let server: http.Server;
let base = '';
let requests = 0;
const saved = { ...process.env };

before(async () => {
  server = http.createServer((req, res) => {
    requests++;
    const file = path.join(tmp, 'served', decodeURIComponent((req.url ?? '/').slice(1)));
    if (!fs.existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = fs.readFileSync(file);
    res.writeHead(200, { 'content-length': body.length });
    // Several chunks, so progress events really stream.
    for (let i = 0; i < body.length; i += 65536) res.write(body.subarray(i, i + 65536));
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  fs.mkdirSync(path.join(tmp, 'served'), { recursive: true });
  fs.writeFileSync(path.join(tmp, 'served', 'w.bin'), payload);
  process.env.GRAFT_HOME = path.join(tmp, 'home');
  process.env.KERAS_HOME = path.join(tmp, 'keras');
  refreshEnv();
});

after(async () => {
  await new Promise((r) => server.close(r));
  process.env = saved;
  refreshEnv();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const cacheDir = () => path.join(tmp, `cache-${crypto.randomBytes(3).toString('hex')}`);

test('download: streams to the cache with progress events, verifies md5 and sha256', async () => {
  for (const hash of [md5, sha256]) {
    const dir = cacheDir();
    const events: DownloadProgressEvent[] = [];
    const p = await fetchWeights({ fileName: 'w.bin', url: `${base}w.bin`, hash }, { cacheDir: dir, allowDownload: true, onProgress: (e) => events.push(e) });
    assert.equal(p, path.join(dir, 'w.bin'));
    assert.ok(fs.readFileSync(p).equals(payload));
    assert.deepEqual(fs.readdirSync(dir), ['w.bin'], 'no temp file left');
    assert.equal(events[0].type, 'initiate');
    assert.equal(events.at(-1)!.type, 'done');
    assert.ok(events.filter((e) => e.type === 'progress').length >= 2);
    assert.ok(events.every((e) => e.file === 'w.bin' && e.total === payload.length));
    assert.equal(events.at(-1)!.loaded, payload.length);
    // Second call: served from the cache, no request.
    const n = requests;
    assert.equal(await fetchWeights({ fileName: 'w.bin', url: `${base}w.bin`, hash }, { cacheDir: dir, allowDownload: false }), p);
    assert.equal(requests, n);
  }
  assert.equal(detectHashAlgo(md5), 'md5');
  assert.equal(detectHashAlgo(sha256), 'sha256');
});

test('hash mismatch: error names expected and got, nothing is kept', async () => {
  const dir = cacheDir();
  const wrong = 'f'.repeat(32);
  await assert.rejects(
    fetchWeights({ fileName: 'w.bin', url: `${base}w.bin`, hash: wrong }, { cacheDir: dir, allowDownload: true }),
    (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_HASH' && e.message.includes(wrong) && e.message.includes(md5),
  );
  assert.deepEqual(fs.readdirSync(dir), []);
});

test('offline or failed download: E_WEIGHTS_UNAVAILABLE names the file, the URL and the folder', async () => {
  const dir = cacheDir();
  const wf = { fileName: 'w.bin', url: `${base}w.bin`, hash: md5 };
  // The test runner sets GRAFT_OFFLINE=1: env.allowDownload is false by default here.
  assert.equal(env.allowDownload, false);
  await assert.rejects(fetchWeights(wf, { cacheDir: dir }), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_UNAVAILABLE' && e.message.includes('w.bin') && e.message.includes(wf.url) && (e.hint ?? '').includes(path.join(dir, 'w.bin')) && /offline|downloads are off/i.test(e.message));
  await assert.rejects(fetchWeights({ ...wf, fileName: 'missing.bin', url: `${base}missing.bin` }, { cacheDir: dir, allowDownload: true }), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_UNAVAILABLE' && /HTTP 404/.test(e.message));
  // A corrupted cached copy is not used.
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'w.bin'), 'corrupt');
  await assert.rejects(fetchWeights(wf, { cacheDir: dir }), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_UNAVAILABLE');
});

test('found in Keras\' ~/.keras/models (read-only) when the hash matches', async () => {
  const kdir = path.join(env.kerasHome, 'models');
  fs.mkdirSync(kdir, { recursive: true });
  fs.writeFileSync(path.join(kdir, 'k.bin'), payload);
  const dir = cacheDir();
  assert.equal(await fetchWeights({ fileName: 'k.bin', url: `${base}nowhere`, hash: sha256 }, { cacheDir: dir }), path.join(kdir, 'k.bin'));
  assert.equal(fs.existsSync(dir), false, 'nothing copied or created');
});

test('the ImageNet table: Keras file names, URLs and md5 hashes; MobileNetV2 unhashed', () => {
  assert.deepEqual(Object.keys(IMAGENET_WEIGHTS).sort(), ['efficientnet_b0', 'inception_v3', 'mobilenet_v2', 'resnet101', 'resnet152', 'resnet50', 'vgg16', 'vgg19']);
  for (const [arch, e] of Object.entries(IMAGENET_WEIGHTS)) {
    for (const wf of [e.top, e.notop]) {
      assert.ok(wf.url.startsWith('https://storage.googleapis.com/') && wf.url.endsWith(`/${wf.fileName}`), wf.url);
      if (arch === 'mobilenet_v2') assert.equal(wf.hash, null);
      else assert.ok(/^[0-9a-f]{32}$/.test(wf.hash ?? '') && wf.hashAlgo === 'md5', `${arch} ${wf.hash}`);
    }
  }
  const r = imagenetWeightFile('resnet50', { includeTop: false });
  assert.equal(r.url, 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5');
  assert.equal(r.hash, '4d473c1dd8becc155b73f8504c6f6626');
  assert.equal(imagenetWeightFile('efficientnet_b0').url, 'https://storage.googleapis.com/keras-applications/efficientnetb0.h5');
  assert.equal(imagenetWeightFile('mobilenet-v2', { includeTop: false, inputShape: [160, 160, 3] }).fileName, 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_160_no_top.h5');
  assert.equal(imagenetWeightFile('mobilenet_v2', { includeTop: false, inputShape: [100, 100, 3] }).fileName, 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5');
  assert.throws(() => imagenetWeightFile('alexnet'), (e: unknown) => isGraftError(e) && /resnet50/.test(e.hint ?? ''));
});

/** A tiny stand-in for an architecture: applyWeights only reads spec.name / pretrained. */
function tinySpec(name: string): { spec: ArchitectureSpec; build: () => tf.LayersModel } {
  const build = () => {
    const i = tf.input({ shape: [4, 4, 3] });
    const c = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'Conv1' }).apply(i) as tf.SymbolicTensor;
    return tf.model({ inputs: i, outputs: c });
  };
  return { spec: { name, pretrained: {} } as unknown as ArchitectureSpec, build };
}

test('applyWeights imagenet: Keras class rule, offline error, and a file found in the Keras folder', async () => {
  await initTf();
  const { spec, build } = tinySpec('mobilenet_v2');
  await assert.rejects(applyWeights(build(), spec, { weights: 'imagenet', includeTop: true, classes: 10 }), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_CLASSES' && /classes=10/.test(e.message));
  await assert.rejects(applyWeights(build(), spec, { weights: 'imagenet', includeTop: false }), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_UNAVAILABLE' && /mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1\.0_224_no_top\.h5/.test(e.message) && /storage\.googleapis\.com/.test(e.message));
  const src = build();
  const file = path.join(env.kerasHome, 'models', 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5');
  await saveModelAsKerasH5(src, file);
  const dst = build();
  const info = await applyWeights(dst, spec, { weights: 'imagenet', includeTop: false });
  assert.equal(info.source, 'imagenet');
  assert.equal(info.file, file);
  assert.equal(info.sha256, crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
  assert.deepEqual(Array.from(dst.getLayer('Conv1').getWeights()[0].dataSync()), Array.from(src.getLayer('Conv1').getWeights()[0].dataSync()));
});

test('applyWeights from an http(s) URL: cached under a URL-derived name with its sha256 recorded', async () => {
  await initTf();
  const { spec, build } = tinySpec('anything');
  const src = build();
  await saveModelAsKerasH5(src, path.join(tmp, 'served', 'tiny.h5'));
  env.allowDownload = true;
  try {
    const dst = build();
    const info = await applyWeights(dst, spec, { weights: `${base}tiny.h5` });
    assert.equal(info.source, `${base}tiny.h5`);
    assert.ok(info.file!.startsWith(path.join(env.home, 'weights')) && /url-[0-9a-f]{12}-tiny\.h5$/.test(info.file!), info.file);
    assert.equal(info.sha256, crypto.createHash('sha256').update(fs.readFileSync(path.join(tmp, 'served', 'tiny.h5'))).digest('hex'));
    assert.deepEqual(Array.from(dst.getLayer('Conv1').getWeights()[0].dataSync()), Array.from(src.getLayer('Conv1').getWeights()[0].dataSync()));
  } finally {
    refreshEnv();
  }
});

test('applyWeights: none/null do nothing; unknown forms list the valid ones', async () => {
  const { spec, build } = tinySpec('anything');
  assert.deepEqual(await applyWeights(build(), spec, { weights: 'none' }), { source: 'none', skipped: [] });
  assert.deepEqual(await applyWeights(build(), spec, { weights: null }), { source: 'none', skipped: [] });
  await assert.rejects(applyWeights(build(), spec, { weights: 'imagenet21k' }), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_SOURCE' && /imagenet21k/.test(e.message) && /'imagenet', 'nsfwjs', 'none'/.test(e.hint ?? ''));
  await assert.rejects(applyWeights(build(), spec, { weights: path.join(tmp, 'absent.h5') }), (e: unknown) => isGraftError(e) && e.code === 'E_WEIGHTS_NOT_FOUND');
});
