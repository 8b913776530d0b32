// Pieces of bench/serve.ts: the server as a child process (the real CLI), the JPEG set, the
// raw onnxruntime limit, and an autocannon run with exact percentiles.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import * as ort from 'onnxruntime-node';
import { decodeBytes } from '../../src/data/decode.js';
import { readManifest } from '../../src/io/manifest.js';
import { trainClassifier } from '../../src/workflow/train.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const JPEG_DIR = '/usr/share/doc/opencv-doc/examples/data';

/** Real photos from Debian's opencv-doc (Apache-2.0/BSD-3), the 24 largest JPEGs: 28–325 KB, up to 1.5 MP. */
export function benchJpegs(): { files: string[]; bytes: Buffer[] } {
  if (!fs.existsSync(JPEG_DIR)) throw new Error(`${JPEG_DIR} is missing: apt-get install opencv-doc (its sample photos are the benchmark's JPEGs).`);
  const files = fs.readdirSync(JPEG_DIR).filter((f) => f.endsWith('.jpg')).map((f) => path.join(JPEG_DIR, f));
  files.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
  const pick = files.slice(0, 24);
  return { files: pick, bytes: pick.map((f) => fs.readFileSync(f)) };
}

/** The MobileNetV2 model: --model, else graft-demo-model/, else one trained now on the demo data with Graft's defaults. */
export async function benchModel(given?: string): Promise<string> {
  if (given) return path.resolve(given);
  const demo = path.join(ROOT, 'graft-demo-model');
  if (fs.existsSync(path.join(demo, 'graft.json'))) return demo;
  const out = path.join(ROOT, 'bench/.data/serve/model');
  if (!fs.existsSync(path.join(out, 'graft.json'))) {
    console.error('training a MobileNetV2 model on data/demo (Graft defaults) for the benchmark…');
    await trainClassifier({ data: path.join(ROOT, 'data/demo/fashion-mnist'), out, force: true, quiet: true });
  }
  return out;
}

export interface ServerProc {
  url: string;
  pid: number;
  child: ChildProcess;
  log: () => string;
  /** SIGTERM, then resolve with the exit code and the ms it took. */
  stop(): Promise<{ code: number | null; ms: number }>;
}

/** `graft serve m=<dir> --port 0 …flags` in a child process (the CLI from src through tsx). */
export async function startServer(modelDir: string, flags: string[] = []): Promise<ServerProc> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve', `m=${modelDir}`, '--port', '0', '--log-level', 'info', ...flags], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  // A bench that crashes must not leave its server running.
  const reap = () => child.kill('SIGKILL');
  process.once('exit', reap);
  child.once('exit', () => process.off('exit', reap));
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const line = out.split('\n').find((l) => l.includes('"graft serve listening"'));
      if (line) {
        clearInterval(t);
        resolve(JSON.parse(line).url);
      }
    }, 20);
    void exited.then((c) => {
      clearInterval(t);
      reject(new Error(`graft serve exited (${c}) before listening:\n${out}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    child,
    log: () => out,
    async stop() {
      const t0 = performance.now();
      child.kill('SIGTERM');
      const code = await exited;
      return { code, ms: performance.now() - t0 };
    },
  };
}

/** Resident memory of a process in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export interface RawLimit {
  batch: number;
  imagesPerS: number;
  /** ms per batch, decode included. */
  batchMs: number;
  /** The same without decoding (pixels ready): what batching itself buys. */
  runOnlyImagesPerS: number;
  /** Longest the JS thread went without running a 1 ms timer while run() was called on it. */
  loopBlockMs: number;
}

/**
 * The limit: the same model.onnx in plain onnxruntime-node in this process (the server is not
 * running), the same decode (sharp through decodeBytes, the batch decoded in parallel), then one
 * run per batch — what a server could at best do with these JPEGs on this machine.
 */
export async function rawLimit(modelDir: string, jpegs: Buffer[], batches: number[], seconds: number): Promise<RawLimit[]> {
  const m = readManifest(modelDir);
  const [h, w] = m.inputSize;
  const s = await ort.InferenceSession.create(path.join(modelDir, m.files.onnx ?? 'model.onnx'), { graphOptimizationLevel: 'all' });
  const out: RawLimit[] = [];
  let k = 0;
  for (const b of batches) {
    const one = async () => {
      const imgs = await Promise.all(Array.from({ length: b }, () => decodeBytes(jpegs[k++ % jpegs.length]!, 'x', { size: [h, w], fit: m.resize })));
      const x = new Float32Array(b * h * w * 3);
      imgs.forEach((r, i) => {
        if (!r.ok) throw new Error(r.reason);
        for (let j = 0; j < h * w * 3; j++) x[i * h * w * 3 + j] = r.data[j]!;
      });
      await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, [b, h, w, 3]) });
    };
    await one();
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000 || n < 3) {
      await one();
      n++;
    }
    const ms = (performance.now() - t0) / n;
    // Run only, and how long each run holds the event loop (why the server runs it in a worker).
    const x = new Float32Array(b * h * w * 3).fill(128);
    let last = performance.now();
    let gap = 0;
    const tick = setInterval(() => {
      const now = performance.now();
      gap = Math.max(gap, now - last);
      last = now;
    }, 1);
    let r = 0;
    const t1 = performance.now();
    while (performance.now() - t1 < seconds * 500 || r < 3) {
      await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, [b, h, w, 3]) });
      await new Promise((res) => setImmediate(res));
      r++;
    }
    const runMs = (performance.now() - t1) / r;
    clearInterval(tick);
    out.push({ batch: b, imagesPerS: (b * 1000) / ms, batchMs: ms, runOnlyImagesPerS: (b * 1000) / runMs, loopBlockMs: gap });
  }
  await s.release();
  return out;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN);

/** autocannon against one URL; percentiles computed from every response time (autocannon itself reports no p95). */
export async function load(opts: { url: string; connections: number; seconds?: number; amount?: number; requests: autocannon.Request[] }): Promise<LoadResult> {
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const inst = autocannon(
      { url: opts.url, connections: opts.connections, requests: opts.requests, timeout: 30, ...(opts.amount ? { amount: opts.amount } : { duration: opts.seconds }) },
      (err, r) => (err ? reject(err) : resolve(r)),
    );
    inst.on('response', (_c: unknown, _status: number, _bytes: number, ms: number) => times.push(ms));
  });
  times.sort((a, b) => a - b);
  const seconds = result.duration;
  return {
    requests: times.length,
    rps: times.length / seconds,
    p50: pct(times, 50),
    p95: pct(times, 95),
    p99: pct(times, 99),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
