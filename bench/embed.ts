/**
 * Forward-pass benchmark: pooled features of a batch of images, random weights, three engines
 * timed in one interleaved run — Graft's frozen-backbone path (onnxruntime-node), the same
 * layers model in TF.js (wasm), and PyTorch 1.13 (bench/peers/torch_embed.py, both layouts).
 *
 *   npm run bench:embed                      # full run, table + JSON
 *   npm run bench:embed -- --quick           # fewer repeats (< ~4 min on 2 cores)
 *   npm run bench:embed -- --json --models resnet50,mobilenet_v2
 *   npm run bench:embed -- --quick --out /tmp/embed.json
 *   npm run bench:embed -- --from /tmp/embed.json   # tables of a saved (or partial) run
 *
 * Progress goes to stderr, results to stdout.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { initTf, tf } from '../src/engine/tfjs/backend.js';
import { FrozenBackbone } from '../src/engine/ort.js';
import { buildModel, getModelSpec } from '../src/zoo/registry.js';
import { maxAbsDiff, ortEngine, tfjsEngine, torchEngine } from './lib/engines.js';
import { interleave, type Engine, type EngineResult, type SamplePlan } from './lib/interleave.js';
import { machineInfo } from './lib/machine.js';
import { fmtRate, fmtRatio, markdownTable } from './lib/table.js';
import { TorchPeer, type TorchInfo } from './lib/torch-peer.js';

/** The targets for Graft-ORT / PyTorch (best layout). Input sizes come from the zoo. */
const MODELS: Record<string, { target: number; tfjsHeavy: boolean }> = {
  mobilenet_v2: { target: 4, tfjsHeavy: false },
  resnet50: { target: 1.5, tfjsHeavy: true },
  inception_v3: { target: 1.5, tfjsHeavy: true },
};
const BATCH = 16;
const THREADS = 2;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    models: { type: 'string', default: Object.keys(MODELS).join(',') },
    /** Also write the JSON record here, rewritten after every model (a killed run keeps its results). */
    out: { type: 'string' },
    /** Print the tables of a record saved with --out, without running anything. */
    from: { type: 'string' },
  },
});

/**
 * Repeats per engine. TF.js wasm runs ResNet50/InceptionV3 at ~2-3 img/s: few samples there.
 * The budget (timed seconds per model) bounds --quick when other work slows every engine.
 */
function plans(heavy: boolean): { ort: SamplePlan; torch: SamplePlan; tfjs: SamplePlan; minSampleSec: number; budgetSec: number } {
  return args.quick
    ? { ort: { warmup: 2, repeats: 5 }, torch: { warmup: 1, repeats: 4 }, tfjs: { warmup: 1, repeats: heavy ? 2 : 3 }, minSampleSec: 0.4, budgetSec: 35 }
    : { ort: { warmup: 3, repeats: 15 }, torch: { warmup: 2, repeats: 15 }, tfjs: { warmup: 1, repeats: heavy ? 4 : 7 }, minSampleSec: 1, budgetSec: 300 };
}

/** onnxruntime-node's version, from its package.json. */
function ortVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

const sig = (x: number) => Number(x.toPrecision(3));
const load1 = () => Number(os.loadavg()[0]!.toFixed(2));
const log = (msg: string) => process.stderr.write(msg + '\n');

/** A fixed pseudo-random batch in [-1, 1] ('tf' preprocessing range), the same for every engine. */
function inputBatch(n: number, size: number): Float32Array {
  const x = new Float32Array(n * size * size * 3);
  let s = 0x9e3779b9;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
    x[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return x;
}

interface ModelResult {
  model: string;
  size: number;
  batch: number;
  setupSec: Record<string, number>;
  engines: EngineResult[];
  /** 1-minute load average when this model's timing started (2 cores: above ~2 means contention). */
  loadAvg1: number;
  /**
   * Max |ORT − TF.js| over the pooled features of the same batch, absolute and relative to
   * max |TF.js| (random-init features can be tiny: MobileNetV2's are ~1e-11).
   */
  ortVsTfjs?: { maxAbsDiff: number; maxAbsRef: number; relDiff: number };
  torchBest?: { layout: string; median: number };
  ratios: { ortOverTorchBest?: number; ortOverTfjs?: number };
  target: { ortOverTorchBest: number; met?: boolean };
  error?: string;
}

/** The zoo's default input side (224 for MobileNetV2/ResNet50, 299 for InceptionV3). */
const sizeOf = (name: string): number => getModelSpec(name).defaultInputShape[0];

async function benchModel(name: string, peer: TorchPeer | undefined, cacheDir: string): Promise<ModelResult> {
  const { target, tfjsHeavy } = MODELS[name]!;
  const size = sizeOf(name);
  const p = plans(tfjsHeavy);
  const res: ModelResult = { model: name, size, batch: BATCH, loadAvg1: load1(), setupSec: {}, engines: [], ratios: {}, target: { ortOverTorchBest: target } };
  const timed = async <T>(key: string, f: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    const v = await f();
    res.setupSec[key] = Number(((performance.now() - t0) / 1000).toFixed(2));
    return v;
  };

  const model = await timed('buildLayersModel', () => buildModel(name, { includeTop: false, pooling: 'avg', inputShape: [size, size, 3] }));
  let backbone: FrozenBackbone | undefined;
  let tfjs: ReturnType<typeof tfjsEngine> | undefined;
  let ort: ReturnType<typeof ortEngine> | undefined;
  try {
    backbone = await timed('ortExportAndSession', () => FrozenBackbone.fromLayersModel(model, { threads: THREADS, cacheDir, verify: false }));
    if (peer) await timed('torchLoad', () => peer.load(name, size, BATCH));
    log(`[${name}] setup ${JSON.stringify(res.setupSec)}; timing…`);
    const x = inputBatch(BATCH, size);
    ort = ortEngine(backbone, x, BATCH);
    tfjs = tfjsEngine(tf, model, x, [BATCH, size, size, 3]);
    const list: [Engine, SamplePlan][] = [[ort, p.ort], [tfjs, p.tfjs]];
    if (peer) list.push([torchEngine(peer, name, 'contiguous'), p.torch], [torchEngine(peer, name, 'channels_last'), p.torch]);
    res.engines = await interleave(list, {
      batch: BATCH,
      minSampleSec: p.minSampleSec,
      budgetSec: p.budgetSec,
      onSample: (e, ips, r) => log(`  [${name}] round ${r + 1}: ${e.label.padEnd(22)} ${fmtRate(ips)} img/s`),
    });
  } finally {
    tfjs?.dispose();
    model.dispose();
    backbone?.dispose();
    if (peer) await peer.unload(name);
  }
  const a = ort.lastOutput();
  const b = tfjs.lastOutput();
  if (a && b) {
    const diff = maxAbsDiff(a, b);
    const ref = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    res.ortVsTfjs = { maxAbsDiff: sig(diff), maxAbsRef: sig(ref), relDiff: sig(ref > 0 ? diff / ref : diff) };
  }

  const med = (id: string) => res.engines.find((e) => e.id === id)?.median;
  const torch = res.engines.filter((e) => e.id.startsWith('torch_')).sort((u, v) => v.median - u.median)[0];
  if (torch) res.torchBest = { layout: torch.id.slice('torch_'.length), median: torch.median };
  const o = med('ort');
  if (o !== undefined && torch) res.ratios.ortOverTorchBest = o / torch.median;
  if (o !== undefined && med('tfjs')) res.ratios.ortOverTfjs = o / med('tfjs')!;
  if (res.ratios.ortOverTorchBest !== undefined) res.target.met = res.ratios.ortOverTorchBest >= target;
  return res;
}

function tables(results: ModelResult[]): string {
  const get = (r: ModelResult, id: string) => r.engines.find((e) => e.id === id);
  const main = markdownTable(
    ['model', 'input', 'Graft ORT', 'PyTorch contiguous', 'PyTorch channels_last', 'TF.js wasm', 'ORT / PyTorch best', 'ORT / TF.js', 'target', 'met'],
    results.map((r) => [
      r.model,
      `${r.size}²×${r.batch}`,
      fmtRate(get(r, 'ort')?.median),
      fmtRate(get(r, 'torch_contiguous')?.median),
      fmtRate(get(r, 'torch_channels_last')?.median),
      fmtRate(get(r, 'tfjs')?.median),
      r.ratios.ortOverTorchBest !== undefined ? `${r.ratios.ortOverTorchBest.toFixed(2)}x` : '–',
      fmtRatio(get(r, 'ort')?.median, get(r, 'tfjs')?.median),
      `>= ${r.target.ortOverTorchBest}x`,
      r.error ? `error: ${r.error}` : r.target.met === undefined ? '–' : r.target.met ? 'yes' : 'no',
    ]),
  );
  const spread = markdownTable(
    ['model', 'engine', 'median', 'min', 'max', 'samples', 'batches/sample'],
    results.flatMap((r) =>
      r.engines.map((e) => [r.model, e.label, fmtRate(e.median), fmtRate(e.min), fmtRate(e.max), String(e.n), String(e.batchesPerSample)]),
    ),
  );
  const checks = results.map((r) => {
    const d = r.ortVsTfjs ? `ORT vs TF.js features: max abs diff ${r.ortVsTfjs.maxAbsDiff} (relative ${r.ortVsTfjs.relDiff})` : 'ORT vs TF.js not compared';
    return `- ${r.model}: ${d}; 1-min load average at start ${r.loadAvg1}`;
  });
  return `Images/s (median), batch ${BATCH}, random weights:\n\n${main}\n\nSpread (images/s):\n\n${spread}\n\n${checks.join('\n')}\n`;
}

async function main(): Promise<void> {
  if (args.from) {
    const rec = JSON.parse(fs.readFileSync(args.from, 'utf8')) as { results: ModelResult[]; notes: string[] };
    process.stdout.write(tables(rec.results) + '\n' + rec.notes.map((n) => `- ${n}`).join('\n') + '\n');
    return;
  }
  const names = args.models!.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const unknown = names.filter((n) => !(n in MODELS));
  if (unknown.length) {
    log(`--models accepts a comma-separated list of ${Object.keys(MODELS).join(', ')}. Received: ${unknown.join(', ')}`);
    process.exit(2);
  }
  const machine = machineInfo();
  const tfBackend = await initTf('wasm');
  const started = await TorchPeer.start(THREADS);
  const peer = typeof started === 'string' ? undefined : started;
  const torchInfo: TorchInfo | undefined = peer?.info;
  const notes = [
    `Threads: onnxruntime intra-op ${THREADS}, PyTorch torch.set_num_threads(${THREADS}), TF.js ${tfBackend} runs one thread in Node.`,
    'Engines are sampled in alternating, rotating order so background load hits each alike.',
  ];
  if (typeof started === 'string') {
    notes.push(`PyTorch peer skipped: ${started}.`);
    log(`note: PyTorch peer skipped: ${started}`);
  }
  log(`bench:embed ${args.quick ? '(quick) ' : ''}on ${machine.cpuModel} × ${machine.cores}, load ${machine.loadAvg1}; TF.js backend ${tfBackend}`);

  const results: ModelResult[] = [];
  const t0 = performance.now();
  const record = (): object => ({
    benchmark: 'embed',
    machine: { ...machine, loadAvg1End: load1() },
    quick: args.quick,
    totalSec: Number(((performance.now() - t0) / 1000).toFixed(1)),
    versions: { tfjs: tf.version.tfjs, tfBackend, onnxruntimeNode: ortVersion(), torch: torchInfo },
    notes,
    results,
  });
  const save = () => args.out && fs.writeFileSync(args.out, JSON.stringify(record(), null, 2) + '\n');
  // Random weights give a new graph every run: keep exported graphs out of Graft's real cache.
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-bench-embed-'));
  // A killed run (timeout, Ctrl-C) must not leave ~180 MB of graphs behind; the PyTorch peer
  // exits by itself when its stdin closes.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      fs.rmSync(cacheDir, { recursive: true, force: true });
      process.exit(130);
    });
  }
  try {
    for (const name of names) {
      log(`[${name}] building, exporting, loading…`);
      try {
        results.push(await benchModel(name, peer, cacheDir));
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        log(`[${name}] failed: ${msg}`);
        const target = { ortOverTorchBest: MODELS[name]!.target };
        results.push({ model: name, size: sizeOf(name), batch: BATCH, loadAvg1: load1(), setupSec: {}, engines: [], ratios: {}, target, error: msg });
      }
      save();
    }
  } finally {
    await peer?.close();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
  if (!args.json) process.stdout.write(tables(results) + '\n' + notes.map((n) => `- ${n}`).join('\n') + '\n\n');
  process.stdout.write(JSON.stringify(record(), null, 2) + '\n');
  if (results.some((r) => r.error)) process.exitCode = 1;
}

await main();
