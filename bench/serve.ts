/**
 * bench:serve — `graft serve` under load (issue 13). The server is the real CLI in a child
 * process; the client is autocannon in this process; a MobileNetV2 model directory; real JPEGs
 * (Debian opencv-doc's sample photos). Measures, in one run:
 *   1. the limit: plain onnxruntime-node on the same model.onnx, decode included, by batch size;
 *   2. throughput and p50/p95/p99 at 1/8/32/64 clients: raw-bytes :classify, OIP JSON FP32
 *      pixels, OIP binary FP32 pixels, OIP binary BYTES (JPEG);
 *   3. worker-thread vs main-thread inference, and the batch settings (size, delay) at 32 clients;
 *   4. a soak of mixed valid and invalid requests: status per kind, server RSS over time;
 *   5. two reloads and a SIGTERM during load: failed requests.
 *
 * Usage: npm run bench:serve [-- --quick] [--model <dir>] [--seconds <s>] [--soak <n>]
 * --quick: short cells, fewer clients and configs, a 1,000-request soak (checks the bench runs).
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type autocannon from 'autocannon';
import { readManifest } from '../src/io/manifest.js';
import { SERVE_DEFAULTS } from '../src/serve/options.js';
import { machineInfo } from './lib/machine.js';
import { markdownTable, fmtRate } from './lib/table.js';
import { benchJpegs, benchModel, load, rawLimit, rssOf, startServer, type LoadResult } from './lib/serve-parts.js';

const argv = process.argv.slice(2);
const flag = (n: string) => argv.includes(n);
const val = (n: string) => (argv.includes(n) ? argv[argv.indexOf(n) + 1] : undefined);
const quick = flag('--quick');
const seconds = Number(val('--seconds') ?? (quick ? 2 : 10));
const soakN = Number(val('--soak') ?? (quick ? 1000 : 20_000));
const CLIENTS = quick ? [1, 8] : [1, 8, 32, 64];
const MAIN_CLIENTS = quick ? 8 : 32;

const modelDir = await benchModel(val('--model'));
const manifest = readManifest(modelDir);
const [H, W] = manifest.inputSize;
const { files, bytes: jpegs } = benchJpegs();
const metas = await Promise.all(jpegs.map((b) => sharp(b).metadata()));
const mp = metas.map((m) => ((m.width ?? 0) * (m.height ?? 0)) / 1e6);
const machine = { ...machineInfo(), command: ['npm run bench:serve', ...(argv.length ? ['--', ...argv] : [])].join(' ') };
console.log(`# bench:serve ${quick ? '(quick)' : ''}\n${machine.cpuModel}, ${machine.cores} cores, load ${machine.loadAvg1}, node ${machine.node}, ${machine.date}`);
console.log(`model ${modelDir}: ${manifest.backbone.name} ${H}×${W}, ${manifest.classes.length} classes; ${jpegs.length} JPEGs from ${path.dirname(files[0]!)}, ${Math.round(Math.min(...jpegs.map((b) => b.length)) / 1024)}–${Math.round(Math.max(...jpegs.map((b) => b.length)) / 1024)} KB, ${Math.min(...mp).toFixed(2)}–${Math.max(...mp).toFixed(2)} MP\n`);

// ── 1. the limit ──────────────────────────────────────────────────────────────────────────────
const limits = await rawLimit(modelDir, jpegs, quick ? [1, 8] : [1, 8, 16, 32], quick ? 1 : 4);
const best = limits.reduce((a, b) => (b.imagesPerS > a.imagesPerS ? b : a));
console.log('## Raw onnxruntime-node limit (decode + run, this process, server not running)\n');
console.log(markdownTable(['batch', 'images/s (decode + run)', 'ms per batch', 'images/s (run only)', 'event loop blocked, ms'], limits.map((l) => [String(l.batch), fmtRate(l.imagesPerS), l.batchMs.toFixed(1), fmtRate(l.runOnlyImagesPerS), l.loopBlockMs.toFixed(0)])) + '\n');

// ── request bodies ────────────────────────────────────────────────────────────────────────────
const pixels = await Promise.all(jpegs.slice(0, 8).map(async (b) => sharp(b).resize(W, H, { fit: 'cover' }).removeAlpha().raw().toBuffer()));
const jsonPixels = pixels.map((p) => JSON.stringify({ inputs: [{ name: 'pixels', shape: [1, H, W, 3], datatype: 'FP32', data: Array.from(p) }] }));
const binary = (head: object, tail: Buffer) => {
  const j = Buffer.from(JSON.stringify(head));
  return { body: Buffer.concat([j, tail]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(j.length) } };
};
const f32 = (p: Buffer) => Buffer.from(new Float32Array(p).buffer);
const lenPrefixed = (b: Buffer) => Buffer.concat([Buffer.from(new Uint32Array([b.length]).buffer), b]);
type Req = autocannon.Request;
const MODES: Record<string, Req[]> = {
  'classify (raw JPEG bytes)': jpegs.map((body) => ({ method: 'POST', path: '/v1/models/m:classify', headers: { 'content-type': 'image/jpeg' }, body })),
  'OIP JSON FP32 pixels': jsonPixels.map((body) => ({ method: 'POST', path: '/v2/models/m/infer', headers: { 'content-type': 'application/json' }, body })),
  'OIP binary FP32 pixels': pixels.map((p) => ({ method: 'POST', path: '/v2/models/m/infer', ...binary({ inputs: [{ name: 'pixels', shape: [1, H, W, 3], datatype: 'FP32', parameters: { binary_data_size: p.length * 4 } }] }, f32(p)) })),
  'OIP binary BYTES (JPEG)': jpegs.map((j) => ({ method: 'POST', path: '/v2/models/m/infer', ...binary({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: j.length + 4 } }] }, lenPrefixed(j)) })),
};
const row = (label: string, c: number, r: LoadResult) => [label, String(c), fmtRate(r.rps), r.p50.toFixed(0), r.p95.toFixed(0), r.p99.toFixed(0), String(r.non2xx + r.errors + r.timeouts)];
const HEAD = ['workload', 'clients', 'req/s (= images/s)', 'p50 ms', 'p95 ms', 'p99 ms', 'failed'];
const batchMean = async (url: string) => {
  const t = await (await fetch(`${url}/metrics`)).text();
  const sum = Number(/graft_serve_batch_size_sum\{model="m"\} ([\d.e+]+)/.exec(t)?.[1]);
  const count = Number(/graft_serve_batch_size_count\{model="m"\} ([\d.e+]+)/.exec(t)?.[1]);
  return { sum, count };
};

// ── 2. throughput and latency ─────────────────────────────────────────────────────────────────
const record: Record<string, unknown> = { machine, model: modelDir, jpegs: files, limits };
const cells: { mode: string; clients: number; result: LoadResult; meanBatch: number }[] = [];
{
  const srv = await startServer(modelDir);
  await load({ url: srv.url, connections: 8, seconds: quick ? 0.5 : 2, requests: MODES['classify (raw JPEG bytes)']! });
  for (const [mode, requests] of Object.entries(MODES)) {
    for (const c of CLIENTS) {
      const before = await batchMean(srv.url);
      const result = await load({ url: srv.url, connections: c, seconds, requests });
      const after = await batchMean(srv.url);
      cells.push({ mode, clients: c, result, meanBatch: (after.sum - before.sum) / Math.max(1, after.count - before.count) });
    }
  }
  await srv.stop();
}
console.log(`## Throughput and latency (defaults: maxBatchSize ${SERVE_DEFAULTS.maxBatchSize}, maxBatchDelay ${SERVE_DEFAULTS.maxBatchDelayMs} ms, worker thread; ${seconds} s per cell)\n`);
console.log(markdownTable([...HEAD, 'mean batch'], cells.map((x) => [...row(x.mode, x.clients, x.result), x.meanBatch.toFixed(1)])) + '\n');
record.cells = cells;

// ── 3. inference thread and batch settings, raw bytes at MAIN_CLIENTS ─────────────────────────
const configs: [string, string[]][] = [
  ['main-thread inference', ['--inference', 'main']],
  ['maxBatchSize 1', ['--max-batch-size', '1']],
  ...(quick ? [] : ([['maxBatchSize 4', ['--max-batch-size', '4']], ['maxBatchSize 16', ['--max-batch-size', '16']], ['maxBatchSize 32', ['--max-batch-size', '32']], ['maxBatchDelay 0 ms', ['--max-batch-delay', '0']], ['maxBatchDelay 10 ms', ['--max-batch-delay', '10']]] as [string, string[]][])),
];
const sweep: { config: string; result: LoadResult; meanBatch: number }[] = [];
const defaultCell = cells.find((x) => x.mode === 'classify (raw JPEG bytes)' && x.clients === MAIN_CLIENTS)!;
sweep.push({ config: 'defaults', result: defaultCell.result, meanBatch: defaultCell.meanBatch });
for (const [config, flags] of configs) {
  const srv = await startServer(modelDir, flags);
  await load({ url: srv.url, connections: 8, seconds: quick ? 0.5 : 2, requests: MODES['classify (raw JPEG bytes)']! });
  const before = await batchMean(srv.url);
  const result = await load({ url: srv.url, connections: MAIN_CLIENTS, seconds, requests: MODES['classify (raw JPEG bytes)']! });
  const after = await batchMean(srv.url);
  sweep.push({ config, result, meanBatch: (after.sum - before.sum) / Math.max(1, after.count - before.count) });
  await srv.stop();
}
console.log(`## Settings, raw-bytes classify at ${MAIN_CLIENTS} clients\n`);
console.log(markdownTable(['config', ...HEAD.slice(2), 'mean batch'], sweep.map((x) => [x.config, ...row('', MAIN_CLIENTS, x.result).slice(2), x.meanBatch.toFixed(1)])) + '\n');
record.sweep = sweep;

// ── 4. soak ───────────────────────────────────────────────────────────────────────────────────
const bomb = await sharp({ create: { width: 8000, height: 7000, channels: 3, background: '#336699' } }).png().toBuffer();
const multipart = (() => {
  const b = 'benchboundary';
  const body = Buffer.concat([Buffer.from(`--${b}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`), jpegs[1]!, Buffer.from(`\r\n--${b}--\r\n`)]);
  return { body, headers: { 'content-type': `multipart/form-data; boundary=${b}` } };
})();
const kinds: { kind: string; valid: boolean; req: Req }[] = [
  ...jpegs.slice(0, 6).map((body, i) => ({ kind: 'classify JPEG', valid: true, req: MODES['classify (raw JPEG bytes)']![i]! })),
  { kind: 'OIP JSON BYTES base64', valid: true, req: { method: 'POST', path: '/v2/models/m/infer', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'x', inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [jpegs[2]!.toString('base64')] }] }) } },
  { kind: 'OIP binary FP32', valid: true, req: MODES['OIP binary FP32 pixels']![0]! },
  { kind: 'multipart', valid: true, req: { method: 'POST', path: '/predictions/m', ...multipart } },
  { kind: 'truncated JPEG', valid: false, req: { method: 'POST', path: '/v1/models/m:classify', headers: { 'content-type': 'image/jpeg' }, body: jpegs[3]!.subarray(0, jpegs[3]!.length >> 1) } },
  { kind: 'text as image', valid: false, req: { method: 'POST', path: '/predictions/m', headers: { 'content-type': 'image/jpeg' }, body: 'this is not an image' } },
  { kind: 'malformed JSON', valid: false, req: { method: 'POST', path: '/v2/models/m/infer', headers: { 'content-type': 'application/json' }, body: '{"inputs": [{"name": "pix' } },
  { kind: 'wrong shape', valid: false, req: { method: 'POST', path: '/v2/models/m/infer', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'pixels', shape: [1, 8, 8, 3], datatype: 'FP32', data: new Array(192).fill(1) }] }) } },
  { kind: 'unknown model', valid: false, req: { method: 'POST', path: '/v1/models/nope:classify', headers: { 'content-type': 'image/jpeg' }, body: jpegs[0]! } },
  { kind: '56 MP PNG (bomb)', valid: false, req: { method: 'POST', path: '/v1/models/m:classify', headers: { 'content-type': 'image/png' }, body: bomb } },
];
const tally = new Map<string, Map<number, number>>();
const soakReqs: Req[] = kinds.map((k) => ({
  ...k.req,
  onResponse: (status: number) => {
    const m = tally.get(k.kind) ?? new Map<number, number>();
    m.set(status, (m.get(status) ?? 0) + 1);
    tally.set(k.kind, m);
  },
}));
const soak = await (async () => {
  const srv = await startServer(modelDir);
  await load({ url: srv.url, connections: 8, seconds: quick ? 0.5 : 3, requests: MODES['classify (raw JPEG bytes)']! });
  const rss: { t: number; rss: number }[] = [];
  const t0 = performance.now();
  const timer = setInterval(() => rss.push({ t: performance.now() - t0, rss: rssOf(srv.pid) }), 200);
  const result = await load({ url: srv.url, connections: 16, amount: soakN, requests: soakReqs });
  clearInterval(timer);
  await srv.stop();
  const q = Math.max(1, Math.floor(rss.length / 4));
  const mean = (xs: { rss: number }[]) => xs.reduce((a, b) => a + b.rss, 0) / xs.length;
  return { result, rss, firstQuarterMiB: mean(rss.slice(0, q)) / 2 ** 20, lastQuarterMiB: mean(rss.slice(-q)) / 2 ** 20, peakMiB: Math.max(...rss.map((r) => r.rss)) / 2 ** 20 };
})();
const soakRows = kinds.filter((k, i) => kinds.findIndex((x) => x.kind === k.kind) === i).map((k) => {
  const m = tally.get(k.kind) ?? new Map();
  const statuses = [...m.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(', ');
  const ok = [...m.keys()].every((s) => (k.valid ? s === 200 : s >= 400 && s < 500));
  return [k.kind, k.valid ? 'valid' : 'invalid', statuses, ok ? 'yes' : 'NO'];
});
const rssDrift = soak.lastQuarterMiB / soak.firstQuarterMiB - 1;
console.log(`## Soak: ${soak.result.requests} mixed requests, 16 clients, ${fmtRate(soak.result.rps)} req/s\n`);
console.log(markdownTable(['kind', '', 'statuses', 'as expected'], soakRows));
console.log(`\nserver RSS: first quarter ${soak.firstQuarterMiB.toFixed(0)} MiB, last quarter ${soak.lastQuarterMiB.toFixed(0)} MiB (${(rssDrift * 100).toFixed(1)}%), peak ${soak.peakMiB.toFixed(0)} MiB; client errors ${soak.result.errors}, timeouts ${soak.result.timeouts}\n`);
record.soak = { ...soak, tally: Object.fromEntries([...tally].map(([k, m]) => [k, Object.fromEntries(m)])) };

// ── 5. reload and SIGTERM during load ─────────────────────────────────────────────────────────
const ops = await (async () => {
  const srv = await startServer(modelDir);
  const dur = quick ? 3 : 9;
  const running = load({ url: srv.url, connections: 16, seconds: dur, requests: MODES['classify (raw JPEG bytes)']! });
  const versions: string[] = [];
  for (const at of [dur / 3, (2 * dur) / 3]) {
    await new Promise((r) => setTimeout(r, (at * 1000) / 2));
    versions.push((await (await fetch(`${srv.url}/v2/repository/models/m/load`, { method: 'POST' })).json()).version);
  }
  const during = await running;
  // SIGTERM: 16 clients loop; a request counts if it was sent before the signal.
  let signalled = false;
  const statuses: (number | string)[] = [];
  const client = async () => {
    while (!signalled) {
      const sentBefore = !signalled;
      const st = await fetch(`${srv.url}/v1/models/m:classify`, { method: 'POST', body: new Uint8Array(jpegs[statuses.length % jpegs.length]!), headers: { 'content-type': 'image/jpeg' } }).then(
        async (r) => (await r.arrayBuffer(), r.status),
        (e: Error) => e.message,
      );
      if (sentBefore) statuses.push(st);
    }
  };
  const clients = Array.from({ length: 16 }, client);
  await new Promise((r) => setTimeout(r, quick ? 1000 : 3000));
  const stopping = srv.stop();
  signalled = true;
  const stop = await stopping;
  await Promise.all(clients);
  return { reload: { versions, result: during }, sigterm: { requests: statuses.length, failed: statuses.filter((s) => s !== 200), exitCode: stop.code, exitMs: stop.ms } };
})();
console.log('## Reload and SIGTERM during load\n');
console.log(`two reloads (versions ${ops.reload.versions.join(', ')}) during ${ops.reload.result.requests} requests at 16 clients: ${ops.reload.result.non2xx + ops.reload.result.errors + ops.reload.result.timeouts} failed`);
console.log(`SIGTERM with 16 clients sending: ${ops.sigterm.requests} requests sent before the signal, ${ops.sigterm.failed.length} failed${ops.sigterm.failed.length ? ` (${[...new Set(ops.sigterm.failed)].join('; ')})` : ''}; exit code ${ops.sigterm.exitCode} after ${ops.sigterm.exitMs.toFixed(0)} ms\n`);
record.ops = ops;

// ── goals ─────────────────────────────────────────────────────────────────────────────────────
const at = cells.find((x) => x.mode === 'classify (raw JPEG bytes)' && x.clients === MAIN_CLIENTS)!.result;
const batchAtDefault = limits.find((l) => l.batch === SERVE_DEFAULTS.maxBatchSize) ?? best;
const goals = [
  `raw-bytes classify at ${MAIN_CLIENTS} clients: ${fmtRate(at.rps)} images/s = ${(at.rps / best.imagesPerS).toFixed(2)}× the raw limit (${fmtRate(best.imagesPerS)} at batch ${best.batch}); goal ≥ 0.8× → ${at.rps / best.imagesPerS >= 0.8 ? 'met' : 'NOT met'}`,
  `p99 at ${MAIN_CLIENTS} clients ${at.p99.toFixed(0)} ms vs 3× the raw batch-${batchAtDefault.batch} latency (${(3 * batchAtDefault.batchMs).toFixed(0)} ms) → ${at.p99 <= 3 * batchAtDefault.batchMs ? 'met' : 'NOT met'}`,
  `soak: every valid request 200 and every invalid one 4xx → ${soakRows.every((r) => r[3] === 'yes') ? 'met' : 'NOT met'}; RSS last quarter within 5% of the first → ${Math.abs(rssDrift) <= 0.05 ? 'met' : 'NOT met'} (${(rssDrift * 100).toFixed(1)}%)`,
  `reload and SIGTERM under load: zero failed requests → ${ops.reload.result.non2xx + ops.reload.result.errors + ops.reload.result.timeouts === 0 && ops.sigterm.failed.length === 0 && ops.sigterm.exitCode === 0 ? 'met' : 'NOT met'}`,
];
if (quick) goals.unshift(`(quick run: ${MAIN_CLIENTS} clients stand in for 32; short cells; not numbers to record)`);
console.log('## Goals\n\n' + goals.map((g) => `- ${g}`).join('\n'));
record.goals = goals;
const outFile = path.resolve(val('--out') ?? `bench/.data/serve/results${quick ? '-quick' : ''}.json`);
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, JSON.stringify(record, null, 2));
console.log(`\nrecord: ${outFile}`);
