// Batching, queue limits, metrics, reload/unload under load, the watched folder, draining on
// close and on SIGTERM (the CLI in a child process).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fetchB as fetch, json, makeModel, rawHttp, start } from './helpers.js';

let model: Awaited<ReturnType<typeof makeModel>>;
let jpeg: Buffer;
before(async () => {
  model = await makeModel();
  jpeg = fs.readFileSync(model.jpegs[0]!);
});

const classify = (base: string, name = 'm') => fetch(`${base}/v1/models/${name}:classify`, { method: 'POST', body: jpeg, headers: { 'content-type': 'image/jpeg' } });
const until = async (cond: () => boolean, ms = 5000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
};
const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);

test('concurrent requests are batched; metrics count requests, batches, queue time, load time and RSS', async () => {
  const s = await start({ models: [{ name: 'm', dir: model.dir }], maxBatchSize: 8, maxBatchDelayMs: 300 });
  try {
    const rs = await Promise.all(Array.from({ length: 8 }, () => classify(s.base)));
    assert.deepEqual(rs.map((r) => r.status), new Array(8).fill(200));
    const first = (await rs[0]!.json()).predictions;
    for (const r of rs.slice(1)) assert.deepEqual((await r.json()).predictions, first, 'every copy of the image in the batch gets the same numbers');
    const text = await (await fetch(`${s.base}/metrics`)).text();
    const batches = metric(text, /graft_serve_batch_size_count\{model="m"\} (\d+)/);
    assert.equal(metric(text, /graft_serve_batch_size_sum\{model="m"\} (\d+)/), 8);
    assert.ok(batches >= 1 && batches <= 2, `8 concurrent requests ran in ${batches} batches`);
    assert.equal(metric(text, /graft_serve_requests_total\{model="m",route="\/v1\/models\/:spec",status="200"\} (\d+)/), 8);
    assert.equal(metric(text, /graft_serve_queue_seconds_count\{model="m"\} (\d+)/), 8);
    assert.ok(metric(text, /graft_serve_model_load_seconds\{model="m",version="1"\} ([\d.e-]+)/) > 0);
    assert.ok(metric(text, /process_resident_memory_bytes ([\d.e+]+)/) > 1e6);
    assert.match(text, /graft_serve_in_flight_requests \d+/);
    assert.match(text, /graft_serve_request_duration_seconds_bucket\{le="0.5",model="m",route="\/v1\/models\/:spec"\}/);
  } finally {
    await s.close();
  }
});

test('a full queue answers 503 with Retry-After at once; a request that waits too long gets 503 too', async () => {
  const s = await start({ models: [{ name: 'm', dir: model.dir }], maxQueue: 1, maxBatchDelayMs: 2000, queueTimeoutMs: 400 });
  try {
    const t0 = Date.now();
    const first = classify(s.base);
    await until(() => s.repository.get('m').batcher.depth === 1);
    const second = await classify(s.base);
    assert.equal(second.status, 503);
    assert.equal(second.headers.get('retry-after'), '1');
    assert.match((await second.json()).error, /queue .* is full/);
    const r1 = await first;
    assert.equal(r1.status, 503);
    assert.match((await r1.json()).error, /waited 400 ms in the queue/);
    assert.ok(Date.now() - t0 < 1900, 'the queue timeout fired before the batch delay');
    assert.equal((await classify(s.base)).status, 503, 'still one slot, still a 2 s delay: times out again');
  } finally {
    await s.close();
  }
});

test('reload and load under load: zero failed requests, versions advance, unload and the model root', async () => {
  const copy = path.join(model.root, 'copy');
  fs.cpSync(model.dir, copy, { recursive: true });
  const s = await start({ models: [{ name: 'm', dir: model.dir }], modelRoot: model.root, inference: 'worker' });
  try {
    let stop = false;
    const statuses: number[] = [];
    const versions = new Set<string>();
    const client = async () => {
      while (!stop) {
        const r = await classify(s.base);
        statuses.push(r.status);
        versions.add((await r.json()).version);
      }
    };
    const clients = Array.from({ length: 4 }, client);
    await until(() => statuses.length >= 10);
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${s.base}/v2/repository/models/m/load`, { method: 'POST' });
      assert.equal(r.status, 200);
      assert.equal((await r.json()).version, String(i + 2));
      const n = statuses.length;
      await until(() => statuses.length >= n + 10);
    }
    stop = true;
    await Promise.all(clients);
    assert.ok(statuses.every((x) => x === 200), `failed: ${statuses.filter((x) => x !== 200).join(',')}`);
    assert.ok(versions.has('1') && versions.has('3'), [...versions].join(','));
    const meta = await json(await fetch(`${s.base}/v2/models/m`));
    assert.deepEqual(meta.versions, ['3']);
    assert.equal((await fetch(`${s.base}/v2/models/m/versions/1`)).status, 404, 'the old version is gone');

    const load = (name: string, body?: object) => fetch(`${s.base}/v2/repository/models/${name}/load`, { method: 'POST', ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
    const added = await load('copy', { parameters: { dir: 'copy' } });
    assert.equal(added.status, 200);
    assert.equal((await classify(s.base, 'copy')).status, 200);
    const outside = await load('x', { parameters: { dir: '/etc' } });
    assert.equal(outside.status, 403);
    assert.match((await outside.json()).error, /outside the model root/);
    const notModel = await load('x', { parameters: { dir: 'images' } });
    assert.equal(notModel.status, 400);
    assert.match((await notModel.json()).error, /not a Graft model directory/);
    assert.equal((await load('never-seen')).status, 404);
    const un = await fetch(`${s.base}/v2/repository/models/copy/unload`, { method: 'POST' });
    assert.equal(un.status, 200);
    assert.equal((await classify(s.base, 'copy')).status, 404);
    const index = await json(await fetch(`${s.base}/v2/repository/index`, { method: 'POST' }));
    assert.deepEqual(index.map((e: { name: string; state: string }) => [e.name, e.state]), [['copy', 'UNAVAILABLE'], ['m', 'READY']]);
    assert.equal((await load('copy')).status, 200, 'an unloaded model loads again from where it was');
  } finally {
    await s.close();
  }
});

test('a watched model directory is reloaded when it changes', async () => {
  const dir = path.join(model.root, 'watched');
  fs.cpSync(model.dir, dir, { recursive: true });
  const s = await start({ models: [{ name: 'w', dir }], watchMs: 100 });
  try {
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(dir, 'model.onnx'), later, later);
    await until(() => s.repository.get('w').version === '2', 5000);
    assert.equal((await classify(s.base, 'w')).status, 200);
  } finally {
    await s.close();
  }
});

test('close() drains: queued requests finish, new ones are refused, a stuck client is cut at the deadline', async () => {
  const s = await start({ models: [{ name: 'm', dir: model.dir }], maxBatchDelayMs: 400, requestTimeoutMs: 0, shutdownTimeoutMs: 800 });
  const inflight = Array.from({ length: 3 }, () => classify(s.base));
  await until(() => s.repository.get('m').batcher.depth === 3);
  const host = new URL(s.base).host;
  // Headers in, body never finished: only the deadline ends it.
  const stuck = rawHttp(s.base, [`POST /predictions/m HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5000\r\n\r\nabc`], { waitMs: 10_000 });
  await new Promise((r) => setTimeout(r, 50));
  const t0 = Date.now();
  const closing = s.close();
  const ready = await fetch(`${s.base}/v2/health/ready`).then((r) => r.status, () => 'refused');
  assert.ok(ready === 503 || ready === 'refused', String(ready));
  const rs = await Promise.all(inflight);
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
  await closing;
  assert.ok(Date.now() - t0 < 3000, `close took ${Date.now() - t0} ms`);
  await stuck;
  await assert.rejects(fetch(`${s.base}/v2`), 'the port is closed');
});

test('graft serve (CLI): SIGTERM during a request answers it, then exits 0', async () => {
  const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main, 'serve', `m=${model.dir}`, '--port', '0', '--max-batch-delay', '700'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await until(() => /"msg":"graft serve listening"/.test(out), 30_000);
    const line = JSON.parse(out.split('\n').find((l) => l.includes('graft serve listening'))!);
    assert.match(line.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    // A finished keep-alive request first: its idle connection must not hold up the exit.
    assert.equal((await classify(line.url)).status, 200);
    const pending = classify(line.url);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    child.kill('SIGTERM');
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(await exited, 0, out);
    assert.ok(Date.now() - t0 < 5000, `exit took ${Date.now() - t0} ms (the drain deadline is 10 s: a connection was left open)`);
    assert.match(out, /draining in-flight requests/);
  } finally {
    child.kill('SIGKILL');
  }
});
