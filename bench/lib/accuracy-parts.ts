// The parts of bench/accuracy.ts: the contenders (default `graft train`, from scratch, the
// reference probe on exported features), the data sets on disk and small helpers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { openBackbone, pooledAt } from '../../src/backbones/index.js';
import { cachedExtract } from '../../src/features/cached.js';
import type { DatasetItem } from '../../src/data/dataset.js';
import { rngFromKey as rng } from '../../scripts/lib/prng.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DEFAULT_CUTS = ['block_12', 'block_13', 'block_14', 'block_15', 'block_16', 'out_relu'];
export const BACKBONE = 'mobilenet_v2';
export const WEIGHTS = 'nsfwjs';
export const PYTHON = '/usr/bin/python3';
export const PROBE = path.join(REPO, 'bench/peers/probe.py');

export interface Args {
  sets?: string[];
  budgets: number[];
  seeds: number;
  quick: boolean;
  parts: Set<'default' | 'scratch' | 'probe'>;
  cuts: string[];
  data: string;
  results: string;
  childTimeout: number;
  graftHome?: string;
  build: boolean;
  allowStale: boolean;
  keep: boolean;
}

// ---------------------------------------------------------------- small helpers


export function shuffled<T>(list: readonly T[], key: string): T[] {
  const r = rng(key);
  const out = list.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
export const sd = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));
export const pct = (xs: number[]) => (xs.length === 0 ? '–' : xs.length === 1 ? `${(100 * xs[0]!).toFixed(1)}` : `${(100 * mean(xs)).toFixed(1)} ± ${(100 * sd(xs)).toFixed(1)}`);
export const secs = (xs: number[]) => (xs.length === 0 ? '–' : `${mean(xs).toFixed(1)}`);
export const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);

export function writeManifest(file: string, items: { path: string; cls: string }[]): void {
  fs.writeFileSync(file, ['path,label', ...items.map((it) => `${csvCell(it.path)},${csvCell(it.cls)}`)].join('\n') + '\n');
}

export function newestMtime(dir: string, ext: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestMtime(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

/** bin/graft.js runs dist/: refuse to measure an old build unless asked to. */
export function checkDist(a: Args): void {
  const main = path.join(REPO, 'dist/cli/main.js');
  const stale = () => !fs.existsSync(main) || fs.statSync(main).mtimeMs < newestMtime(path.join(REPO, 'src'), '.ts');
  if (!stale()) return;
  if (a.build) {
    console.log('dist/ is older than src/: building (npx tsc -p tsconfig.json) …');
    const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: REPO, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('npx tsc -p tsconfig.json failed: bin/graft.js would run an old build');
    return;
  }
  if (a.allowStale) {
    console.warn('WARNING: dist/ is older than src/ — bin/graft.js runs the old build (--allow-stale-dist).');
    return;
  }
  throw new Error('dist/ is older than src/, and bin/graft.js runs dist/. Run `npm run build` first, or pass --build (or --allow-stale-dist to measure the old build).');
}

export interface ChildResult {
  code: number | null;
  signal: string | null;
  seconds: number;
  timedOut: boolean;
  log: string;
}

/** Run a command, stdout+stderr to `log`, timed from spawn to exit. */
export function runChild(cmd: string, args: string[], log: string, timeoutS = 0, env: NodeJS.ProcessEnv = process.env): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const fd = fs.openSync(log, 'w');
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: REPO, stdio: ['ignore', fd, fd], env });
    let timedOut = false;
    const timer = timeoutS > 0 ? setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), timeoutS * 1000) : undefined;
    child.on('error', (e) => (fs.closeSync(fd), reject(e)));
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      fs.closeSync(fd);
      resolve({ code, signal, seconds: (performance.now() - t0) / 1000, timedOut, log });
    });
  });
}

export const tail = (file: string, n = 8) => fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n');

// ---------------------------------------------------------------- data

export interface SetInfo {
  name: string;
  package: string;
  version: string;
  classes: string[];
  pool: number[];
  test: number[];
  size: string;
}

export interface Img {
  path: string;
  cls: string;
  label: number;
}

export function listSplit(root: string, split: 'pool' | 'test', classes: string[]): Img[][] {
  return classes.map((cls, label) => {
    const dir = path.join(root, split, cls);
    if (!fs.existsSync(dir)) throw new Error(`${dir} missing: rebuild with node scripts/build-accuracy-data.mjs`);
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.png'))
      .sort()
      .map((f) => ({ path: path.join(dir, f), cls, label }));
  });
}

// ---------------------------------------------------------------- the three contenders

export interface GraftRun {
  ok: boolean;
  seconds: number;
  accuracy?: number;
  split?: string;
  cut?: string;
  head?: string;
  /** What the defaults came to: epochs, rate, schedule, validation hold-out, images per split. */
  settings?: Record<string, unknown>;
  stages?: unknown[];
  error?: string;
  log: string;
}

export async function graftTrain(manifest: string, testManifest: string, out: string, extra: string[], a: Args): Promise<GraftRun> {
  const args = [path.join(REPO, 'bin/graft.js'), 'train', manifest, '--out', out, '--test', testManifest, '--allow-outside', '--quiet', ...extra];
  const env = a.graftHome ? { ...process.env, GRAFT_HOME: a.graftHome } : process.env;
  const r = await runChild(process.execPath, args, `${out}.log`, a.childTimeout, env);
  const base: GraftRun = { ok: false, seconds: r.seconds, log: r.log };
  const file = path.join(out, 'graft.json');
  if (r.code !== 0 || !fs.existsSync(file)) {
    return { ...base, error: r.timedOut ? `killed after ${a.childTimeout} s (--child-timeout)` : `exit ${r.code ?? r.signal}: ${tail(r.log, 4)}` };
  }
  const g = JSON.parse(fs.readFileSync(file, 'utf8'));
  const training = g.training ?? {};
  return {
    ...base,
    ok: true,
    accuracy: g.metrics?.accuracy,
    split: g.metrics?.split,
    cut: g.backbone?.cut,
    head: g.head?.kind,
    settings: { epochs: training.epochs, lr: training.lr, optimizer: training.optimizer, schedule: training.schedule, valSplit: training.valSplit, fineTuneBlocks: training.fineTuneBlocks, inputSize: g.inputSize, counts: g.dataset?.counts, backboneRuns: training.backboneRuns },
    stages: training.stages,
  };
}

export interface ProbeRun {
  ok: boolean;
  wallSeconds: number;
  testAccuracy?: number;
  cvAccuracy?: number | null;
  cvSd?: number | null;
  C?: number;
  folds?: number;
  seconds?: number;
  threads?: unknown;
  note?: string;
  error?: string;
}

/** Write rows of a feature matrix in probe.py's format (see its docstring). */
export function writeFeatures(stem: string, data: Float32Array, dim: number, labels: number[], classes: string[], paths: string[]): void {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (os.endianness() !== 'LE') throw new Error('probe format is little-endian; this machine is not');
  fs.writeFileSync(`${stem}.bin`, buf);
  fs.writeFileSync(`${stem}.json`, JSON.stringify({ format: 'graft-features-v1', data: path.basename(stem) + '.bin', dtype: 'float32', shape: [labels.length, dim], labels, classes, paths }));
}

export async function probe(trainStem: string, testStem: string, log: string): Promise<ProbeRun> {
  const r = await runChild(PYTHON, [PROBE, '--train', `${trainStem}.json`, '--test', `${testStem}.json`], log);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
  const last = lines.filter((l) => l.startsWith('{')).pop();
  if (r.code !== 0 || !last) return { ok: false, wallSeconds: r.seconds, error: `exit ${r.code}: ${tail(log, 4)}` };
  return { ok: true, wallSeconds: r.seconds, ...JSON.parse(last) };
}

/** Pooled features at `cut` for `imgs`, through the shared cache. Rows follow `imgs`. */
export async function features(cut: string, imgs: Img[], cacheDir: string): Promise<{ rows: Map<string, Float32Array>; dim: number; seconds: number; computed: number; skipped: number }> {
  if (cut.includes('+')) {
    // A concatenation Graft chose (e.g. block_14+block_15): the pooled features of each part, side by side.
    const parts = [];
    for (const c of cut.split('+')) parts.push(await features(c, imgs, cacheDir));
    const rows = new Map<string, Float32Array>();
    const dim = parts.reduce((d, p) => d + p.dim, 0);
    for (const key of parts[0]!.rows.keys()) {
      if (!parts.every((p) => p.rows.has(key))) continue;
      const row = new Float32Array(dim);
      let off = 0;
      for (const p of parts) {
        row.set(p.rows.get(key)!, off);
        off += p.dim;
      }
      rows.set(key, row);
    }
    return { rows, dim, seconds: parts.reduce((t, p) => t + p.seconds, 0), computed: parts.reduce((t, p) => t + p.computed, 0), skipped: Math.max(...parts.map((p) => p.skipped)) };
  }
  const t0 = performance.now();
  const bb = await openBackbone(BACKBONE, { weights: WEIGHTS, cut, cacheDir });
  try {
    const ex = bb.extractor({ pooling: 'avg' });
    const items: DatasetItem[] = imgs.map((i) => ({ path: i.path, label: i.label }));
    const r = await cachedExtract(ex, items, bb.cacheKey(pooledAt(bb.cut, 'avg')), { cacheDir });
    const dim = r.features.shape.reduce((x, y) => x * y, 1);
    const rows = new Map<string, Float32Array>();
    r.features.paths.forEach((p, k) => rows.set(p, r.features.data.subarray(k * dim, (k + 1) * dim)));
    return { rows, dim, seconds: (performance.now() - t0) / 1000, computed: r.computed, skipped: r.skipped.length };
  } finally {
    bb.dispose();
  }
}
