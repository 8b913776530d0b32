/**
 * Workload 1: a folder of real-size JPEGs → pooled embeddings, end to end (decode, resize,
 * preprocess, forward). Graft's `embedImages` against torchvision ImageFolder + DataLoader under
 * inference_mode (both memory layouts), plus Graft's raw ORT forward on a pre-decoded batch: the
 * ceiling an end-to-end pipeline can approach. Samples alternate between the engines, round by
 * round, so background load lands on all of them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { initTf } from '../../src/engine/tfjs/backend.js';
import { FrozenBackbone } from '../../src/engine/ort.js';
import { embedImages } from '../../src/workflow/embed.js';
import { createModel } from '../../src/zoo/registry.js';
import { median } from '../lib/stats.js';
import { THREADS, log, round, runPeer } from './common.js';
import { benchWeights } from './weights.js';

export interface EmbedFolderRow {
  backbone: string;
  images: number;
  /** Graft embedImages: images/s of the decode→forward pass, per round. */
  graftIps: number[];
  /** Graft's seconds before the first image (model build, weights, ONNX session), per round. */
  graftSetupS: number[];
  /** First call in this process, when the ONNX graph was exported (or read from cache). */
  graftFirstSetupS: number;
  rawOrtIps: number[];
  /** PyTorch images/s per round; `images` it embedded per pass (an evenly spaced subset when fewer). */
  torch?: { contiguous: number[]; channels_last: number[]; setupS: number[]; workers: number; images: number };
  torchSkipped?: string;
  median: { graft: number; rawOrt: number; torchContiguous?: number; torchChannelsLast?: number };
  ratios: { graftOverTorchBest?: number; graftOverRawOrt: number };
}

/** Graft's raw forward: a fixed, pre-decoded batch through the same ONNX graph embedImages uses. */
async function rawOrtSampler(backbone: string, weights: string, batch: number) {
  const created = await createModel(backbone, { includeTop: false, weights, pooling: 'avg', inputShape: [224, 224, 3] });
  const preprocess = created.pretrained?.preprocess ?? created.spec.defaultPreprocess;
  const bb = await FrozenBackbone.fromLayersModel(created.model, { preprocess, threads: THREADS });
  created.model.dispose();
  const x = new Float32Array(batch * 224 * 224 * 3);
  for (let i = 0; i < x.length; i++) x[i] = (i * 7919) % 256;
  await bb.run(x, batch);
  return {
    /** images/s over `batches` batches. */
    async sample(batches: number): Promise<number> {
      const t0 = performance.now();
      for (let b = 0; b < batches; b++) await bb.run(x, batch);
      return (batch * batches) / ((performance.now() - t0) / 1000);
    },
    dispose: () => bb.dispose(),
  };
}

/**
 * @example
 * const row = await benchEmbedFolder('mobilenet_v2', dir, 2000, { rounds: 3, torch: true });
 */
export async function benchEmbedFolder(
  backbone: string,
  dir: string,
  images: number,
  o: { rounds: number; torch: string | true; batch?: number; workers?: number; peerImages?: number },
): Promise<EmbedFolderRow> {
  await initTf();
  const batch = o.batch ?? 16;
  const workers = o.workers ?? 1;
  const weights = await benchWeights(backbone);
  // First use: exports and caches the ONNX graph (timed apart from the rounds), on one image.
  const t0 = performance.now();
  await embedImages([firstImage(dir)], { backbone, weights, batchSize: batch });
  const graftFirstSetupS = round((performance.now() - t0) / 1000);
  const raw = await rawOrtSampler(backbone, weights, batch);
  const row: EmbedFolderRow = {
    backbone, images, graftIps: [], graftSetupS: [], graftFirstSetupS, rawOrtIps: [],
    median: { graft: 0, rawOrt: 0 }, ratios: { graftOverRawOrt: 0 },
  };
  if (o.torch === true) row.torch = { contiguous: [], channels_last: [], setupS: [], workers, images: Math.min(images, o.peerImages ?? images) };
  else row.torchSkipped = o.torch;
  try {
    for (let r = 0; r < o.rounds; r++) {
      // Rotate the order each round so no engine always runs right after another's burst.
      const steps: (() => Promise<void>)[] = [
        async () => {
          const s = performance.now();
          let start = s;
          let done = 0;
          const res = await embedImages([dir], {
            backbone, weights, batchSize: batch,
            onEvent: (e) => { if (e.type === 'initiate' && e.task === 'extract') start = performance.now(); if (e.type === 'done' && e.task === 'extract') done = performance.now(); },
          });
          if (res.embeddings.length !== images) throw new Error(`embedImages returned ${res.embeddings.length} of ${images} (failed: ${res.failed.length})`);
          row.graftSetupS.push(round((start - s) / 1000));
          row.graftIps.push(round(images / ((done - start) / 1000)));
          log(`  [embed ${backbone}] round ${r + 1}: Graft ${row.graftIps.at(-1)} img/s`);
        },
        async () => {
          row.rawOrtIps.push(round(await raw.sample(Math.max(2, Math.round(64 / batch)))));
          log(`  [embed ${backbone}] round ${r + 1}: raw ORT ${row.rawOrtIps.at(-1)} img/s`);
        },
      ];
      if (row.torch) {
        for (const layout of ['contiguous', 'channels_last'] as const) {
          steps.push(async () => {
            const want = Math.min(images, o.peerImages ?? images);
            const p = await runPeer<{ setup_s: number; pass_s: number[]; images: number }>(['embed', '--data', dir, '--model', backbone, '--layout', layout, '--batch', String(batch), '--workers', String(workers), '--limit', String(want)]);
            if (p.images !== want) throw new Error(`PyTorch embedded ${p.images} of ${want} images`);
            row.torch![layout].push(round(want / p.pass_s[0]!));
            row.torch!.setupS.push(round(p.setup_s));
            log(`  [embed ${backbone}] round ${r + 1}: PyTorch ${layout} ${row.torch![layout].at(-1)} img/s`);
          });
        }
      }
      for (let k = 0; k < steps.length; k++) await steps[(k + r) % steps.length]!();
    }
  } finally {
    raw.dispose();
  }
  row.median.graft = median(row.graftIps);
  row.median.rawOrt = median(row.rawOrtIps);
  row.ratios.graftOverRawOrt = round(row.median.graft / row.median.rawOrt, 3);
  if (row.torch) {
    row.median.torchContiguous = median(row.torch.contiguous);
    row.median.torchChannelsLast = median(row.torch.channels_last);
    row.ratios.graftOverTorchBest = round(row.median.graft / Math.max(row.median.torchContiguous, row.median.torchChannelsLast), 3);
  }
  return row;
}

function firstImage(dir: string): string {
  const cls = fs.readdirSync(dir).filter((d) => !d.startsWith('.')).sort()[0]!;
  return path.join(dir, cls, fs.readdirSync(path.join(dir, cls)).sort()[0]!);
}
