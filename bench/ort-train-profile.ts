/**
 * Where an ORT training step spends its time: runs a few steps of a bench/ort-train.ts workload
 * with onnxruntime's profiler on and prints kernel time by op type and the slowest nodes.
 *
 * Usage: node --import tsx bench/ort-train-profile.ts [--arch mobilenet_v2|resnet50] [--workload top|full] [--batch 16] [--steps 3] [--nodes 15]
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createOrtEngineWith } from '../src/engine/ort-train/engine.js';
import { type TrainArch, type TrainWorkload, trainWorkload } from './lib/train-workload.js';

interface Event {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const arch = opt('--arch', 'mobilenet_v2') as TrainArch;
const workload = opt('--workload', 'top') as TrainWorkload;
const n = Number(opt('--batch', '16'));
const steps = Number(opt('--steps', '3'));
const { net, batch } = await trainWorkload(arch, workload, n);
const dir = mkdtempSync(path.join(os.tmpdir(), 'graft-prof-'));
const engine = (await createOrtEngineWith(net, { optimizer: { type: 'adam', lr: 1e-3 } }, { profilePrefix: path.join(dir, 'step') })) as Awaited<ReturnType<typeof createOrtEngineWith>> & { endProfiling(): void };
await engine.trainStep(batch, 1e-3);
const walls: number[] = [];
for (let s = 0; s < steps; s++) {
  const t0 = performance.now();
  await engine.trainStep(batch, 1e-3);
  walls.push(performance.now() - t0);
}
const wall = walls.reduce((a, b) => a + b, 0) / steps;
engine.endProfiling();
engine.dispose();
const file = readdirSync(dir).map((f) => path.join(dir, f))[0];
const events = JSON.parse(readFileSync(file, 'utf8')) as Event[];
if (argv.includes("--keep")) console.log(`profile: ${file}`);
else rmSync(dir, { recursive: true, force: true });
// The warm-up run (first-touch page faults, allocations) is left out: only runs 2.. count.
const starts = events.filter((e) => e.name === 'model_run').map((e) => e.ts).sort((a, b) => a - b);
const from = starts[1] ?? 0;
const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time') && e.ts >= from);
const runs = steps;
const runMs = events.filter((e) => e.name === 'model_run').sort((a, b) => a.ts - b.ts).slice(1).map((e) => (e.dur / 1000).toFixed(0));
console.log(`step wall ms: ${walls.map((w) => w.toFixed(0)).join(', ')}; onnxruntime run ms: ${runMs.join(', ')}`);
const total = kernels.reduce((a, e) => a + e.dur, 0) / runs;
const byType = new Map<string, number>();
const byNode = new Map<string, number>();
const byPhase = new Map<string, number>();
for (const e of kernels) {
  const phase = /^(fwd|bwd|optim|loss)\//.exec(e.name)?.[1] ?? 'other';
  const pt = `${phase} ${e.args?.op_name ?? '?'}`;
  byPhase.set(pt, (byPhase.get(pt) ?? 0) + e.dur / runs);
  const type = e.args?.op_name ?? '?';
  byType.set(type, (byType.get(type) ?? 0) + e.dur / runs);
  const node = `${e.name.replace(/_kernel_time$/, '')} (${type})`;
  byNode.set(node, (byNode.get(node) ?? 0) + e.dur / runs);
}
const ms = (us: number) => (us / 1000).toFixed(1);
console.log(`${arch} ${workload}, batch ${n}: ${ms(wall * 1000)} ms per step wall (${(n / (wall / 1000)).toFixed(1)} img/s), kernels ${ms(total)} ms per run (warm-up run excluded)`);
console.log('\n| op type | ms per step | share |\n|---|---:|---:|');
for (const [k, v] of [...byType].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`| ${k} | ${ms(v)} | ${((100 * v) / total).toFixed(1)}% |`);
console.log('\n| phase, op type | ms per step | share |\n|---|---:|---:|');
for (const [k, v] of [...byPhase].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`| ${k} | ${ms(v)} | ${((100 * v) / total).toFixed(1)}% |`);
console.log('\n| node | ms per step |\n|---|---:|');
for (const [k, v] of [...byNode].sort((a, b) => b[1] - a[1]).slice(0, Number(opt('--nodes', '15')))) console.log(`| ${k} | ${ms(v)} |`);
