// Open Inference Protocol v2 conformance over real HTTP (127.0.0.1, ephemeral port), checked by
// this file and by an independent Python client (oip_client.py, standard library only).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Classifier } from '../../src/workflow/predict.js';
import { binaryBody, bytesElements, fetchB as fetch, json, makeModel, pixelsOf, start } from './helpers.js';

let model: Awaited<ReturnType<typeof makeModel>>;
let s: Awaited<ReturnType<typeof start>>;
let expected: number[][];
let classes: string[];

before(async () => {
  model = await makeModel();
  s = await start({ models: [{ dir: model.dir }] });
  const clf = await Classifier.load(model.dir);
  const r = await clf.predictFiles(model.jpegs.slice(0, 3), { top: 3 });
  expected = r.predictions.map((p) => p.probabilities);
  classes = clf.classes;
  clf.dispose();
});
after(() => s?.close());

const post = (path: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) => fetch(s.base + path, { method: 'POST', body, headers });
const close = (a: readonly number[], b: readonly number[], tol = 1e-5) => a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= tol);

test('server metadata, liveness and readiness', async () => {
  const m = await json(await fetch(`${s.base}/v2`));
  assert.equal(m.name, 'graft');
  assert.match(m.version, /^\d+\.\d+\.\d+/);
  assert.ok(m.extensions.includes('binary_tensor_data') && m.extensions.includes('model_repository'));
  const live = await fetch(`${s.base}/v2/health/live`);
  assert.equal(live.status, 200);
  assert.deepEqual(await live.json(), { live: true });
  const ready = await fetch(`${s.base}/v2/health/ready`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { ready: true });
});

test('model metadata: the directory name, version 1, inputs and outputs with -1 for the batch', async () => {
  for (const path of ['/v2/models/shoes', '/v2/models/shoes/versions/1']) {
    const m = await json(await fetch(s.base + path));
    assert.equal(m.name, 'shoes');
    assert.deepEqual(m.versions, ['1']);
    assert.equal(m.platform, 'onnxruntime_onnx');
    assert.deepEqual(m.inputs, [
      { name: 'pixels', datatype: 'FP32', shape: [-1, 96, 96, 3] },
      { name: 'image', datatype: 'BYTES', shape: [-1] },
    ]);
    assert.deepEqual(m.outputs, [{ name: 'probabilities', datatype: 'FP32', shape: [-1, classes.length] }]);
    assert.deepEqual(m.graft.classes, classes);
  }
  const r = await fetch(`${s.base}/v2/models/shoes/ready`);
  assert.deepEqual([r.status, await r.json()], [200, { name: 'shoes', ready: true }]);
  assert.equal((await fetch(`${s.base}/v2/models/shoes/versions/1/ready`)).status, 200);
  for (const path of ['/v2/models/nope', '/v2/models/shoes/versions/7', '/v2/models/nope/ready']) {
    const e = await fetch(s.base + path);
    assert.equal(e.status, 404, path);
    assert.equal(typeof (await e.json()).error, 'string');
  }
});

test('infer with JSON BYTES (base64 JPEGs): the probabilities of graft predict, id echoed', async () => {
  const data = model.jpegs.slice(0, 3).map((f) => fs.readFileSync(f).toString('base64'));
  const r = await post('/v2/models/shoes/infer', JSON.stringify({ id: 'req-7', inputs: [{ name: 'image', shape: [3], datatype: 'BYTES', data }] }));
  assert.equal(r.status, 200);
  const b = await r.json();
  assert.equal(b.id, 'req-7');
  assert.equal(b.model_name, 'shoes');
  assert.equal(b.model_version, '1');
  const out = b.outputs[0];
  assert.deepEqual([out.name, out.datatype, out.shape], ['probabilities', 'FP32', [3, classes.length]]);
  for (let i = 0; i < 3; i++) assert.ok(close(out.data.slice(i * classes.length, (i + 1) * classes.length), expected[i]!), `image ${i}`);
});

test('infer with pixel tensors: UINT8 and FP32, flat and nested JSON, and binary tails, all agree', async () => {
  const px = await pixelsOf(model.jpegs[0]!, 96);
  const flat = Array.from(px);
  const nested = [Array.from({ length: 96 }, (_, y) => Array.from({ length: 96 }, (_, x) => flat.slice((y * 96 + x) * 3, (y * 96 + x) * 3 + 3)))];
  const results: number[][] = [];
  for (const [datatype, data] of [['UINT8', flat], ['FP32', nested]] as const) {
    const r = await post('/v2/models/shoes/infer', JSON.stringify({ inputs: [{ name: 'pixels', shape: [1, 96, 96, 3], datatype, data }] }));
    assert.equal(r.status, 200, datatype);
    results.push((await r.json()).outputs[0].data);
  }
  // The ONNX graph's own input name is accepted too; FP32 as a binary tail.
  const f32 = Buffer.from(new Float32Array(flat).buffer);
  const meta = await json(await fetch(`${s.base}/v2/models/shoes`));
  const { body, headerLength } = binaryBody({ inputs: [{ name: meta.graft.onnx.input, shape: [1, 96, 96, 3], datatype: 'FP32', parameters: { binary_data_size: f32.length } }] }, [f32]);
  const r = await post('/v2/models/shoes/infer', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) });
  assert.equal(r.status, 200);
  results.push((await r.json()).outputs[0].data);
  const clf = await Classifier.load(model.dir);
  const direct = Array.from(await clf.predictPixels(new Uint8Array(px), 1));
  clf.dispose();
  for (const got of results) assert.ok(close(got, direct), JSON.stringify([got.slice(0, 3), direct.slice(0, 3)]));
});

test('binary extension: BYTES tail in, binary FP32 out; classification extension', async () => {
  const imgs = model.jpegs.slice(0, 2).map((f) => fs.readFileSync(f));
  const tail = bytesElements(imgs);
  const { body, headerLength } = binaryBody({ inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', parameters: { binary_data_size: tail.length } }], outputs: [{ name: 'probabilities', parameters: { binary_data: true } }] }, [tail]);
  const r = await post('/v2/models/shoes/infer', body, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'application/octet-stream');
  const hl = Number(r.headers.get('inference-header-content-length'));
  const raw = Buffer.from(await r.arrayBuffer());
  const head = JSON.parse(raw.subarray(0, hl).toString());
  const out = head.outputs[0];
  assert.equal(out.parameters.binary_data_size, 2 * classes.length * 4);
  assert.equal(out.data, undefined);
  const bin = raw.subarray(hl);
  const probs = Array.from({ length: 2 * classes.length }, (_, i) => bin.readFloatLE(i * 4));
  assert.ok(close(probs.slice(0, classes.length), expected[0]!));
  assert.ok(close(probs.slice(classes.length), expected[1]!));

  const c = await post('/v2/models/shoes/infer', JSON.stringify({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [imgs[0]!.toString('base64')] }], outputs: [{ name: 'probabilities', parameters: { classification: 2 } }] }));
  const co = (await c.json()).outputs[0];
  assert.deepEqual([co.datatype, co.shape], ['BYTES', [1, 2]]);
  const best = expected[0]!.indexOf(Math.max(...expected[0]!));
  const [value, index, label] = co.data[0].split(':');
  assert.deepEqual([Number(index), label], [best, classes[best]]);
  assert.ok(Math.abs(Number(value) - expected[0]![best]!) < 1e-6);
});

test('infer errors are 4xx with {"error"} naming the problem', async () => {
  const ok = { name: 'pixels', shape: [1, 96, 96, 3], datatype: 'UINT8', data: new Array(96 * 96 * 3).fill(0) };
  const cases: [string | Buffer, number, RegExp, Record<string, string>?][] = [
    ['{"inputs": [', 400, /not valid JSON/],
    ['', 400, /empty/],
    ['[1,2]', 400, /JSON object/],
    ['{"inputs": []}', 400, /non-empty array/],
    [JSON.stringify({ id: 5, inputs: [ok] }), 400, /"id" must be a string/],
    [JSON.stringify({ inputs: [ok, ok] }), 400, /exactly one input/],
    [JSON.stringify({ inputs: [{ ...ok, name: 'x' }] }), 400, /not an input of this model/],
    [JSON.stringify({ inputs: [{ ...ok, datatype: 'INT64' }] }), 400, /FP32 or UINT8/],
    [JSON.stringify({ inputs: [{ ...ok, shape: [1, 64, 64, 3] }] }), 400, /must have shape \[n, 96, 96, 3\]/],
    [JSON.stringify({ inputs: [{ ...ok, shape: [1, 96, 96, -3] }] }), 400, /non-negative integers/],
    [JSON.stringify({ inputs: [{ ...ok, shape: [0, 96, 96, 3] }] }), 400, /at least 1/],
    [JSON.stringify({ inputs: [{ ...ok, data: ok.data.slice(1) }] }), 400, /holds 27647 values/],
    [JSON.stringify({ inputs: [{ ...ok, data: [...ok.data.slice(1), 256] }] }), 400, /UINT8 values are integers 0\.\.255/],
    [JSON.stringify({ inputs: [{ ...ok, data: [...ok.data.slice(1), 'a'] }] }), 400, /must be numbers/],
    [JSON.stringify({ inputs: [{ ...ok, shape: [1000, 96, 96, 3] }] }), 413, /at most 64 per request/],
    [JSON.stringify({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: ['!!!'] }] }), 400, /not a base64 string/],
    [JSON.stringify({ inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', data: ['AAAA'] }] }), 400, /array of 2 base64 strings/],
    [JSON.stringify({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [Buffer.from('not an image at all').toString('base64')] }] }), 400, /element 0: not an image/],
    [JSON.stringify({ inputs: [{ name: 'image', shape: [1], datatype: 'FP32', data: [1] }] }), 400, /datatype must be BYTES/],
    [JSON.stringify({ inputs: [ok], outputs: [{ name: 'logits' }] }), 400, /not an output of this model/],
    [JSON.stringify({ inputs: [ok], outputs: [{ name: 'probabilities', parameters: { classification: 0 } }] }), 400, /classification must be an integer/],
    [Buffer.concat([Buffer.from('{"inputs":[]}'), Buffer.alloc(3)]), 400, /Inference-Header-Content-Length/, { 'inference-header-content-length': '999' }],
    [Buffer.concat([Buffer.from(JSON.stringify({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 3 } }] })), Buffer.alloc(3)]), 400, /cut inside its 4-byte length/],
  ];
  for (const [body, status, re, extra] of cases) {
    let headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
    if (Buffer.isBuffer(body) && !extra) headers = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(body.length - 3) };
    const r = await post('/v2/models/shoes/infer', body, headers);
    const e = await r.json();
    assert.equal(r.status, status, `${String(body).slice(0, 80)} → ${JSON.stringify(e)}`);
    assert.match(e.error, re);
  }
  const unknown = await post('/v2/models/nope/infer', '{}');
  assert.equal(unknown.status, 404);
  assert.match((await unknown.json()).error, /not served.*shoes/);
  const gone = await fetch(`${s.base}/v3/whatever`);
  assert.equal(gone.status, 404);
  assert.match((await gone.json()).error, /No route/);
});

test('an independent Python client (urllib, written from the spec) agrees with the protocol and the numbers', async (t) => {
  const py = spawnSync('python3', ['--version']);
  if (py.status !== 0) {
    t.skip('python3 is not installed: the independent-client check did not run');
    return;
  }
  const script = fileURLToPath(new URL('./oip_client.py', import.meta.url));
  // Asynchronous: the server runs in this process and must keep answering.
  const r = await promisify(execFile)('python3', [script, s.base, 'shoes', model.jpegs[0]!], { encoding: 'utf8' }).catch((e: { stderr?: string; message: string }) => assert.fail(`the Python client failed: ${e.stderr || e.message}`));
  const got = JSON.parse(r.stdout);
  assert.ok(close(got.json, expected[0]!));
  assert.ok(close(got.binary, expected[0]!));
});
