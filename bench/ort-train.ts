/**
 * Training throughput: Graft's ORT training engine vs the TF.js (wasm) engine vs PyTorch.
 *   (a) top: MobileNetV2 split after block_13 (block_14–16 + Conv_1 + head) on cached
 *       block_13 activations (random [n, 7, 7, 160]), 5 classes, Adam;
 *   (b) full: whole MobileNetV2 at 224 px (ORT and PyTorch only; TF.js-wasm cannot hold batch 16).
 * With --arch resnet50: top = conv5 + head on cached conv4 activations ([n, 14, 14, 1024]); full =
 * the whole ResNet50 at 224 px.
 * Each (engine, workload, batch) runs in its own child process, so its peak RSS is its own.
 *
 * Usage: node --import tsx bench/ort-train.ts [--arch mobilenet_v2|resnet50] [--batches 16,32] [--steps 6] [--full] [--only-full] [--no-torch] [--no-tfjs]
 * Prints a Markdown table and a JSON record.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { machineInfo } from './lib/machine.js';
import { fmtRate, fmtRatio, markdownTable } from './lib/table.js';
import { PEER_PYTHON } from './lib/torch-peer.js';
import { TOP_CUT, type TrainArch, trainWorkload } from './lib/train-workload.js';

type Arch = TrainArch;
const LABEL: Record<Arch, { top: string; full: string }> = {
  mobilenet_v2: { top: 'MobileNetV2 top (block_14→head), cached 7×7×160', full: 'MobileNetV2 whole network, 224 px' },
  resnet50: { top: 'ResNet50 conv5 + head, cached 14×14×1024', full: 'ResNet50 whole network, 224 px' },
};

interface Job {
  arch?: Arch;
  engine: 'ort' | 'tfjs';
  workload: 'top' | 'full';
  batch: number;
  steps: number;
}
interface Result {
  imgPerSec: number;
  maxRssMiB: number;
  stepSec: number[];
  error?: string;
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Untimed steps before the timed ones, for every engine and the PyTorch peer. */
const WARMUP = 2;

async function child(job: Job): Promise<Result> {
  const { createOrtEngine } = await import('../src/engine/ort-train/index.js');
  const { createTfjsEngine } = await import('../src/engine/tfjs/engine.js');
  const { net, batch } = await trainWorkload(job.arch ?? 'mobilenet_v2', job.workload, job.batch);
  const opts = { optimizer: { type: 'adam' as const, lr: 1e-3 } };
  const engine = job.engine === 'ort' ? await createOrtEngine(net, opts) : await createTfjsEngine(net, opts);
  // Warm-up: session init, kernel selection, and onnxruntime's arena growing to its working set
  // (the first two ORT steps run ~2× and ~1.3× the steady step time); same count for every engine.
  for (let w = 0; w < WARMUP; w++) await engine.trainStep(batch, 1e-3);
  const stepSec: number[] = [];
  for (let s = 0; s < job.steps; s++) {
    const t0 = performance.now();
    await engine.trainStep(batch, 1e-3);
    stepSec.push((performance.now() - t0) / 1000);
  }
  engine.dispose();
  const sorted = [...stepSec].sort((a, b) => a - b);
  const med = sorted[sorted.length >> 1];
  return { imgPerSec: job.batch / med, maxRssMiB: process.resourceUsage().maxRSS / 1024, stepSec };
}

function runChild(job: Job): Result {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', JSON.stringify(job)], { encoding: 'utf8', maxBuffer: 1 << 24, timeout: 900_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"imgPerSec"'));
  if (line) return JSON.parse(line) as Result;
  return { imgPerSec: NaN, maxRssMiB: NaN, stepSec: [], error: (r.stderr || r.stdout || String(r.error)).split('\n').filter(Boolean).slice(-3).join(' | ') };
}

function runTorch(arch: Arch, workload: 'top' | 'full', batch: number, steps: number, layout: string): Result {
  const r = spawnSync(PEER_PYTHON, [path.join(HERE, 'peers', 'torch_top_train.py'), '--arch', arch, '--workload', workload, '--batch', String(batch), '--steps', String(steps), '--layout', layout, '--warmup', String(WARMUP)], { encoding: 'utf8', timeout: 900_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (line) return JSON.parse(line) as Result;
  return { imgPerSec: NaN, maxRssMiB: NaN, stepSec: [], error: (r.stderr || String(r.error)).split('\n').filter(Boolean).slice(-2).join(' | ') };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    process.stdout.write(`${JSON.stringify(await child(JSON.parse(argv[1]) as Job))}\n`);
    return;
  }
  const opt = (name: string, dflt: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : dflt;
  };
  const batches = opt('--batches', '16,32').split(',').map(Number);
  const steps = Number(opt('--steps', '6'));
  const machine = { ...machineInfo(), command: `node --import tsx bench/ort-train.ts ${argv.join(' ')}`.trim() };
  const rows: string[][] = [];
  const record: Record<string, Result> = {};
  const arch = opt('--arch', 'mobilenet_v2') as Arch;
  if (!(arch in TOP_CUT)) throw new Error(`--arch must be one of ${Object.keys(TOP_CUT).join(', ')}; received ${arch}`);
  const workloads: Array<'top' | 'full'> = argv.includes('--only-full') ? ['full'] : argv.includes('--full') ? ['top', 'full'] : ['top'];
  for (const workload of workloads) {
    for (const batch of batches) {
      const ort = runChild({ arch, engine: 'ort', workload, batch, steps });
      const tfjs = workload === 'top' && !argv.includes('--no-tfjs') ? runChild({ arch, engine: 'tfjs', workload, batch, steps: Math.max(2, steps >> 1) }) : undefined;
      const torch = argv.includes('--no-torch') ? [] : ['contiguous', 'channels_last'].map((l) => runTorch(arch, workload, batch, steps, l));
      const bestTorch = torch.filter((t) => Number.isFinite(t.imgPerSec)).sort((a, b) => b.imgPerSec - a.imgPerSec)[0];
      Object.assign(record, { [`${workload}/${batch}/ort`]: ort, [`${workload}/${batch}/tfjs`]: tfjs, [`${workload}/${batch}/torch_contiguous`]: torch[0], [`${workload}/${batch}/torch_channels_last`]: torch[1] });
      const rss = (r?: Result) => (r && Number.isFinite(r.maxRssMiB) ? r.maxRssMiB.toFixed(0) : '–');
      rows.push([
        LABEL[arch][workload],
        String(batch),
        fmtRate(ort.imgPerSec),
        fmtRate(tfjs?.imgPerSec),
        fmtRate(bestTorch?.imgPerSec),
        fmtRatio(ort.imgPerSec, tfjs?.imgPerSec),
        fmtRatio(ort.imgPerSec, bestTorch?.imgPerSec),
        `${rss(ort)} / ${rss(tfjs)} / ${rss(bestTorch)}`,
      ]);
      for (const [k, r] of [['ort', ort], ['tfjs', tfjs], ['torch', torch[0]]] as const) if (r?.error) console.error(`${workload} b${batch} ${k}: ${r.error}`);
    }
  }
  console.log(markdownTable(['workload (Adam)', 'batch', 'Graft ORT img/s', 'Graft TF.js-wasm img/s', 'PyTorch img/s (best layout)', 'ORT / TF.js', 'ORT / PyTorch', 'peak RSS MiB (ORT / TF.js / PyTorch)'], rows));
  console.log(JSON.stringify({ machine, record }));
}

await main();
