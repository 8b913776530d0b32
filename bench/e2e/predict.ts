/**
 * Workload 5: `graft predict <modelDir> <image>` in a fresh process — what a user waits for at a
 * shell — against a PyTorch script that imports torch, builds the network, loads its state_dict
 * and classifies the same image. Median of several cold runs each.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { trainClassifier } from '../../src/workflow/train.js';
import { median } from '../lib/stats.js';
import { REPO, log, round, runPeer, runProcess } from './common.js';

export interface PredictRow {
  /** The command timed for Graft. */
  graftCommand: string;
  graftS: number[];
  torchS?: number[];
  torchImportS?: number[];
  torchSkipped?: string;
  median: { graft: number; torch?: number };
}

/** The compiled CLI when `npm run build` has produced it, else the TypeScript sources via tsx. */
function graftCommand(): { cmd: string; args: string[]; label: string } {
  if (fs.existsSync(path.join(REPO, 'dist', 'cli', 'main.js'))) return { cmd: process.execPath, args: [path.join(REPO, 'bin', 'graft.js')], label: 'node bin/graft.js predict (compiled dist/)' };
  return { cmd: process.execPath, args: ['--import', 'tsx', path.join(REPO, 'src', 'cli', 'main.ts')], label: 'node --import tsx src/cli/main.ts predict (no dist/: run `npm run build` for the compiled CLI)' };
}

/**
 * @example
 * const row = await benchPredict(trainDir, image, { repeats: 5, torch: true });
 */
export async function benchPredict(trainDir: string, image: string, o: { repeats: number; torch: string | true }): Promise<PredictRow> {
  await initTf();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-bench-predict-'));
  try {
    const modelDir = path.join(work, 'model');
    log('  [predict] training a small MobileNetV2 model to predict with');
    const r = await trainClassifier({ data: trainDir, out: modelDir, backbone: 'mobilenet_v2', weights: 'nsfwjs', epochs: 1, cacheDir: path.join(work, 'cache'), quiet: true, report: false });
    const g = graftCommand();
    const row: PredictRow = { graftCommand: g.label, graftS: [], median: { graft: 0 } };
    let torchFile: string | undefined;
    if (o.torch === true) {
      torchFile = path.join(work, 'mobilenet_v2.pt');
      await runPeer(['save', '--model', 'mobilenet_v2', '--classes', String(r.manifest.classes.length), '--out', torchFile]);
      row.torchS = [];
      row.torchImportS = [];
    } else row.torchSkipped = o.torch;
    for (let i = 0; i < o.repeats; i++) {
      const p = await runProcess(g.cmd, [...g.args, 'predict', modelDir, image, '--json'], 120_000);
      if (p.code !== 0) throw new Error(`graft predict failed (exit ${p.code}): ${p.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      row.graftS.push(round(p.seconds, 3));
      if (torchFile) {
        const t = await runPeer<{ import_s: number }>(['predict', '--model', 'mobilenet_v2', '--classes', String(r.manifest.classes.length), '--model-file', torchFile, image], 120_000);
        row.torchS!.push(round(t.wall_s, 3));
        row.torchImportS!.push(round(t.import_s, 3));
      }
      log(`  [predict] run ${i + 1}: Graft ${row.graftS.at(-1)} s${row.torchS ? `, PyTorch ${row.torchS.at(-1)} s` : ''}`);
    }
    row.median.graft = median(row.graftS);
    if (row.torchS) row.median.torch = median(row.torchS);
    return row;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
