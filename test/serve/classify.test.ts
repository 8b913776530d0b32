// :classify and /predictions with raw bytes and multipart; the same numbers as `graft predict`;
// every limit answered by a clear 4xx (or 503 + Retry-After); a small fuzz of malformed input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { Classifier } from '../../src/workflow/predict.js';
import { fetchB as fetch, json, makeModel, multipartBody, rawHttp, start, statusOf } from './helpers.js';

let model: Awaited<ReturnType<typeof makeModel>>;
let s: Awaited<ReturnType<typeof start>>;
let predicted: Awaited<ReturnType<Classifier['predictFiles']>>['predictions'];

before(async () => {
  model = await makeModel();
  s = await start({ models: [{ name: 'm', dir: model.dir }], bodyLimit: 256 * 1024, maxImages: 4, maxPixels: 1_000_000, requestTimeoutMs: 1500 });
  const clf = await Classifier.load(model.dir);
  predicted = (await clf.predictFiles([...model.jpegs, model.png], { top: 5 })).predictions;
  clf.dispose();
});
after(() => s?.close());

const sendImage = (url: string, bytes: Buffer, type = 'image/jpeg') => fetch(url, { method: 'POST', body: bytes, headers: { 'content-type': type } });
const sameTop = (got: { label: string; probability: number }[], want: { label: string; probability: number }[]) => {
  assert.deepEqual(got.map((g) => g.label), want.map((w) => w.label));
  for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i]!.probability - want[i]!.probability) < 1e-6, `${got[i]!.probability} vs ${want[i]!.probability}`);
};

test('raw image bytes to :classify and /predictions: graft predict\'s top-k for every file', async () => {
  const files = [...model.jpegs, model.png];
  for (const [i, f] of files.entries()) {
    const url = i % 2 ? `${s.base}/predictions/m?top=5` : `${s.base}/v1/models/m:classify?top=5`;
    const r = await sendImage(url, fs.readFileSync(f), f.endsWith('.png') ? 'image/png' : 'image/jpeg');
    assert.equal(r.status, 200);
    const b = await r.json();
    assert.equal(b.model, 'm');
    sameTop(b.predictions, predicted[i]!.top);
  }
  // Versioned routes, default top-3, octet-stream and no content type at all.
  const bytes = fs.readFileSync(model.jpegs[0]!);
  for (const [url, type] of [[`${s.base}/v1/models/m/versions/1:classify`, 'application/octet-stream'], [`${s.base}/predictions/m/1`, '']] as const) {
    const r = await fetch(url, { method: 'POST', body: bytes, headers: type ? { 'content-type': type } : {} });
    assert.equal(r.status, 200, url);
    sameTop((await r.json()).predictions, predicted[0]!.top.slice(0, 3));
  }
});

test('multipart: one file gives predictions, several give results in order', async () => {
  const one = multipartBody([{ field: 'image', filename: 'a.jpg', bytes: fs.readFileSync(model.jpegs[1]!) }]);
  const r1 = await fetch(`${s.base}/predictions/m`, { method: 'POST', body: one.body, headers: { 'content-type': one.contentType } });
  assert.equal(r1.status, 200);
  sameTop((await r1.json()).predictions, predicted[1]!.top.slice(0, 3));
  const three = multipartBody([0, 2, 3].map((i) => ({ field: `f${i}`, filename: `${i}.jpg`, bytes: fs.readFileSync(model.jpegs[i]!) })));
  const r3 = await fetch(`${s.base}/v1/models/m:classify?top=2`, { method: 'POST', body: three.body, headers: { 'content-type': three.contentType } });
  const b = await r3.json();
  assert.equal(r3.status, 200, JSON.stringify(b));
  assert.deepEqual(b.results.map((x: { filename: string }) => x.filename), ['0.jpg', '2.jpg', '3.jpg']);
  [0, 2, 3].forEach((i, k) => sameTop(b.results[k].predictions, predicted[i]!.top.slice(0, 2)));
});

test('limits: body size, decoded pixels, images per request, top-k, each a clear 4xx', async () => {
  const big = await sharp({ create: { width: 1200, height: 1000, channels: 3, background: '#808080' } }).png().toBuffer();
  const r1 = await sendImage(`${s.base}/v1/models/m:classify`, big, 'image/png');
  assert.equal(r1.status, 413);
  assert.match((await r1.json()).error, /1200×1000 = 1200000 pixels exceeds the server's limit of 1000000/);
  const huge = Buffer.concat([fs.readFileSync(model.jpegs[0]!), Buffer.alloc(300 * 1024)]);
  const r2 = await sendImage(`${s.base}/v1/models/m:classify`, huge);
  assert.equal(r2.status, 413);
  assert.match((await r2.json()).error, /larger than the server's limit/);
  const five = multipartBody([0, 1, 2, 3, 4].map((i) => ({ field: 'f', filename: `${i}.jpg`, bytes: fs.readFileSync(model.jpegs[i]!) })));
  const r3 = await fetch(`${s.base}/predictions/m`, { method: 'POST', body: five.body, headers: { 'content-type': five.contentType } });
  assert.equal(r3.status, 413);
  assert.match((await r3.json()).error, /at most 4 images per request/);
  const parts = multipartBody([0, 1].map((i) => ({ field: 'f', filename: `${i}.bin`, bytes: Buffer.alloc(150 * 1024, i) })));
  const r4 = await fetch(`${s.base}/predictions/m`, { method: 'POST', body: parts.body, headers: { 'content-type': parts.contentType } });
  assert.equal(r4.status, 413);
  assert.match((await r4.json()).error, /exceeds the server's 262144-byte limit/);
  for (const top of ['0', 'x', '-1']) {
    const r = await sendImage(`${s.base}/v1/models/m:classify?top=${top}`, fs.readFileSync(model.jpegs[0]!));
    assert.equal(r.status, 400);
    assert.match((await r.json()).error, /top=.* must be an integer >= 1/);
  }
  const many = await sendImage(`${s.base}/v1/models/m:classify?top=99`, fs.readFileSync(model.jpegs[0]!));
  assert.equal((await many.json()).predictions.length, 3, 'top is capped at the class count');
});

test('corrupt, truncated and non-image bytes: 400 naming the part and the reason', async () => {
  const jpeg = fs.readFileSync(model.jpegs[0]!);
  const cases: [Buffer, RegExp][] = [
    [Buffer.alloc(0), /request body: empty/],
    [Buffer.from('hello, I am text'), /request body: not an image/],
    [jpeg.subarray(0, Math.floor(jpeg.length / 2)), /request body: truncated or corrupt JPEG/],
    [Buffer.from('BM' + 'x'.repeat(100)), /request body: unsupported format: BMP/],
  ];
  for (const [bytes, re] of cases) {
    const r = await sendImage(`${s.base}/v1/models/m:classify`, bytes);
    const e = await r.json();
    assert.equal(r.status, 400, JSON.stringify(e));
    assert.match(e.error, re);
  }
  const mixed = multipartBody([{ field: 'good', filename: 'ok.jpg', bytes: jpeg }, { field: 'bad', filename: 'broken.jpg', bytes: jpeg.subarray(0, 200) }]);
  const r = await fetch(`${s.base}/predictions/m`, { method: 'POST', body: mixed.body, headers: { 'content-type': mixed.contentType } });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /file part "bad" \(broken\.jpg\): truncated or corrupt JPEG/);
  const wrongVerb = await sendImage(`${s.base}/v1/models/m:predict`, jpeg);
  assert.equal(wrongVerb.status, 404);
  assert.match((await wrongVerb.json()).error, /:classify/);
});

test('fuzz: malformed multipart, broken framing, huge headers, slow clients; the server keeps answering', async () => {
  const jpeg = fs.readFileSync(model.jpegs[0]!);
  const { body, contentType } = multipartBody([{ field: 'f', filename: 'a.jpg', bytes: jpeg }]);
  const truncated = body.subarray(0, body.length - 60);
  const r1 = await fetch(`${s.base}/predictions/m`, { method: 'POST', body: truncated, headers: { 'content-type': contentType } });
  assert.equal(r1.status, 400);
  assert.match((await r1.json()).error, /multipart body is malformed or truncated/);
  const noBoundary = await fetch(`${s.base}/predictions/m`, { method: 'POST', body, headers: { 'content-type': 'multipart/form-data' } });
  assert.ok(noBoundary.status >= 400 && noBoundary.status < 500, String(noBoundary.status));
  const noFile = await fetch(`${s.base}/predictions/m`, { method: 'POST', body: '--b\r\nContent-Disposition: form-data; name="x"\r\n\r\nhello\r\n--b--\r\n', headers: { 'content-type': 'multipart/form-data; boundary=b' } });
  assert.equal(noFile.status, 400);
  assert.match((await noFile.json()).error, /no file part/);

  const host = new URL(s.base).host;
  const hugeHeader = await rawHttp(s.base, [`GET /v2 HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`]);
  assert.equal(statusOf(hugeHeader), 431);
  const garbage = await rawHttp(s.base, ['\x00\x01 not http at all\r\n\r\n']);
  assert.equal(statusOf(garbage), 400);
  const badLength = await rawHttp(s.base, [`POST /predictions/m HTTP/1.1\r\nHost: ${host}\r\nContent-Length: abc\r\n\r\n`]);
  assert.equal(statusOf(badLength), 400);
  // A client that sends its headers and then dribbles the body past the request timeout: 408.
  const t0 = Date.now();
  const slow = await rawHttp(s.base, [`POST /predictions/m HTTP/1.1\r\nHost: ${host}\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n`, ...Array.from({ length: 40 }, () => 'x')], { gapMs: 100, waitMs: 6000 });
  assert.equal(statusOf(slow), 408, slow.slice(0, 100));
  assert.ok(Date.now() - t0 < 5000, 'the timeout ended the request');
  // Random bytes in every route: always a 4xx with a JSON error, never a 5xx.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 30; i++) {
    const junk = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 400) }, () => Math.floor(rnd() * 256)));
    if (i % 3 === 0) junk.write('{"inputs":[{"name":"image","shape":[1],', 0);
    const route = ['/v2/models/m/infer', '/v1/models/m:classify', '/predictions/m'][i % 3]!;
    const type = ['application/json', 'image/jpeg', 'multipart/form-data; boundary=zz'][i % 3]!;
    const r = await fetch(s.base + route, { method: 'POST', body: junk, headers: { 'content-type': type } });
    assert.ok(r.status >= 400 && r.status < 500, `${route} ${r.status}`);
    assert.equal(typeof (await json(r)).error, 'string');
  }
  const still = await sendImage(`${s.base}/v1/models/m:classify`, jpeg);
  assert.equal(still.status, 200);
});

test('bearer token (constant-time compare), CORS off by default and on when asked, rate limit', async () => {
  const t = await start({ models: [{ name: 'm', dir: model.dir }], token: 's3cret', cors: ['http://app.example'], rateLimit: { max: 3, windowMs: 60_000 } });
  try {
    assert.equal((await fetch(`${t.base}/v2/health/live`)).status, 200, 'health needs no token');
    const none = await fetch(`${t.base}/v2`);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.match((await none.json()).error, /requires "Authorization: Bearer/);
    const wrong = await fetch(`${t.base}/v2`, { headers: { authorization: 'Bearer s3cres' } });
    assert.equal(wrong.status, 401);
    const right = await fetch(`${t.base}/v2`, { headers: { authorization: 'Bearer s3cret', origin: 'http://app.example' } });
    assert.equal(right.status, 200);
    assert.equal(right.headers.get('access-control-allow-origin'), 'http://app.example');
    // Refused tokens are answered before the rate limiter counts: `right` was the first counted.
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${t.base}/v2`, { headers: { authorization: 'Bearer s3cret' } })).status);
    assert.deepEqual(statuses, [200, 200, 429], 'three requests per window');
    const limited = await fetch(`${t.base}/v2`, { headers: { authorization: 'Bearer s3cret' } });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
    assert.match((await limited.json()).error, /Rate limit exceeded/);
  } finally {
    await t.close();
  }
  const plain = await fetch(`${s.base}/v2`, { headers: { origin: 'http://app.example' } });
  assert.equal(plain.headers.get('access-control-allow-origin'), null, 'CORS is off by default');
  assert.equal(new URL(s.base).hostname, '127.0.0.1', 'binds 127.0.0.1 by default');
});

test('a model directory that cannot be served is a GraftError at start, naming the problem', async () => {
  const broken = path.join(model.root, 'broken');
  fs.cpSync(model.dir, broken, { recursive: true });
  fs.writeFileSync(path.join(broken, 'model.onnx'), fs.readFileSync(path.join(model.dir, 'model.onnx')).subarray(0, 1000));
  await assert.rejects(start({ models: [{ dir: broken }] }), (e: Error & { code?: string }) => e.code === 'E_MODEL_DIR_DAMAGED');
  await assert.rejects(start({ models: [{ dir: model.root }] }), (e: Error & { code?: string }) => e.code === 'E_NOT_A_MODEL_DIR');
  await assert.rejects(start({ models: [{ name: 'a', dir: model.dir }, { name: 'a', dir: model.dir }] }), (e: Error & { code?: string }) => e.code === 'E_SERVE_DUPLICATE_NAME');
  await assert.rejects(start({ models: [{ dir: model.dir }], maxBatchSize: 0 }), (e: Error & { code?: string }) => e.code === 'E_BAD_OPTIONS' && /maxBatchSize/.test(e.message));
});
