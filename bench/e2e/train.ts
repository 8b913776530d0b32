/**
 * Workloads 2 and 3: train a new head on a frozen backbone, and fine-tune the top block(s) + head,
 * wall clock from the folder to a written model, with a fresh cache (so the first backbone pass
 * and the ONNX export are inside the time). PyTorch runs the standard recipe: backbone frozen
 * with requires_grad=False and run every epoch.
 *
 * Slow configurations may time fewer epochs than they describe (`timedEpochs`); the rest is
 * extrapolated from the median measured epoch, on both sides alike, and marked as such.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { trainClassifier } from '../../src/workflow/train.js';
import { median } from '../lib/stats.js';
import { cpuSince, log, round, runPeer } from './common.js';
import { benchWeights } from './weights.js';

export type TrainMode = 'head' | 'finetune';

export interface TrainRow {
  backbone: string;
  mode: TrainMode;
  images: number;
  /** Epochs the workload describes (head: head epochs; finetune: fine-tune epochs). */
  epochs: number;
  fineTuneBlocks?: number;
  graft: {
    /** Measured wall seconds of trainClassifier (folder → model dir). */
    wallS: number;
    /** wallS plus untimed epochs × median epoch (equal to wallS when every epoch ran). */
    totalS: number;
    timedEpochs: number;
    /** Seconds at each stage event (export, backbone passes, training, writing). */
    stages: { at: number; message: string }[];
    epochS: number[];
    backboneRuns: number;
    /** Process CPU seconds / (wall × cores): how busy the run kept the machine. */
    cpuUtilisation: number;
    valAcc?: number;
    /** Training engine(s) trainClassifier used (graft.json `training.engine`, e.g. 'ort' or 'tfjs-wasm'). */
    engine: string;
  };
  torch?: { totalS: number; setupS: number; epochS: number[]; timedEpochs: number; layout: string; valAcc?: number };
  torchSkipped?: string;
  /** PyTorch total / Graft total: > 1 means Graft is faster. */
  speedup?: number;
}

const extrapolate = (measured: number, epochS: number[], wanted: number) => measured + Math.max(0, wanted - epochS.length) * (epochS.length ? median(epochS) : 0);

/**
 * @example
 * const row = await benchTrain('mobilenet_v2', dir, 2000, { mode: 'head', epochs: 10, torch: true, layout: 'channels_last' });
 */
export async function benchTrain(
  backbone: string,
  dir: string,
  images: number,
  o: { mode: TrainMode; engine?: 'ort' | 'tfjs'; epochs: number; timedEpochs?: number; torchTimedEpochs?: number; fineTuneBlocks?: number; torch: string | true; layout: string; workers?: number },
): Promise<TrainRow> {
  await initTf();
  const weights = await benchWeights(backbone);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `graft-bench-train-${backbone}-`));
  const timed = Math.min(o.epochs, o.timedEpochs ?? o.epochs);
  const stages: { at: number; message: string }[] = [];
  const row: TrainRow = { backbone, mode: o.mode, images, epochs: o.epochs, fineTuneBlocks: o.fineTuneBlocks } as TrainRow;
  try {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const res = await trainClassifier(
      {
        data: dir,
        out: path.join(work, 'model'),
        backbone,
        weights,
        batchSize: 32,
        cacheDir: path.join(work, 'cache'),
        quiet: true,
        ...(o.engine ? { engine: o.engine } : {}),
        // Fine-tuning: Graft's recipe trains the head first (1 epoch here, on cached features),
        // then the unfrozen blocks for the workload's epochs.
        ...(o.mode === 'head' ? { epochs: timed } : { epochs: 1, fineTuneBlocks: o.fineTuneBlocks ?? 1, fineTuneEpochs: timed }),
      },
      (e) => {
        if (e.type === 'stage') stages.push({ at: round((performance.now() - t0) / 1000), message: e.message });
      },
    );
    const wallS = (performance.now() - t0) / 1000;
    const cpu = cpuSince(cpu0);
    const stageName = o.mode === 'head' ? 'head' : 'fine-tune';
    const epochS = res.history.filter((h) => (h as unknown as { stage?: string }).stage === stageName).map((h) => round(h.seconds));
    const last = res.history.at(-1);
    row.graft = {
      wallS: round(wallS),
      totalS: round(extrapolate(wallS, epochS, o.epochs)),
      timedEpochs: timed,
      stages,
      epochS,
      backboneRuns: res.backboneRuns,
      cpuUtilisation: round(cpu / (wallS * os.cpus().length), 3),
      valAcc: last?.valAcc,
      engine: String((res.manifest.training as Record<string, unknown>).engine ?? 'unknown'),
    };
    log(`  [train ${o.mode} ${backbone}] Graft ${row.graft.totalS} s (${timed}/${o.epochs} epochs timed, engine ${row.graft.engine}), cpu ${row.graft.cpuUtilisation}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  if (o.torch !== true) {
    row.torchSkipped = o.torch;
    return row;
  }
  const tt = Math.min(o.epochs, o.torchTimedEpochs ?? timed);
  const p = await runPeer<{ setup_s: number; epochs: { seconds: number; val_acc: number }[] }>([
    'train', '--data', dir, '--model', backbone, '--mode', o.mode, '--blocks', String(o.fineTuneBlocks ?? 1),
    '--epochs', String(o.epochs), '--timed-epochs', String(tt), '--layout', o.layout, '--workers', String(o.workers ?? 1),
  ]);
  const epochS = p.epochs.map((e) => round(e.seconds));
  // The peer's total counts from process start (import torch, model build) like Graft's from the call.
  const measured = p.wall_s;
  row.torch = { totalS: round(extrapolate(measured, epochS, o.epochs)), setupS: round(p.setup_s), epochS, timedEpochs: tt, layout: o.layout, valAcc: p.epochs.at(-1)?.val_acc };
  row.speedup = round(row.torch.totalS / row.graft.totalS, 3);
  log(`  [train ${o.mode} ${backbone}] PyTorch ${row.torch.totalS} s (${tt}/${o.epochs} epochs timed) → ${row.speedup}x`);
  return row;
}
