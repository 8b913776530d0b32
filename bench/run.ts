/**
 * End-to-end benchmark suite (issue 4): Graft against PyTorch 1.13 CPU on the same images in the
 * same run, for the five workloads a transfer-learning user meets. Prints a table of ratios and
 * the JSON record; `--out FILE` also writes the JSON.
 *
 *   npm run bench                                   # everything, full sizes (long: run in pieces)
 *   npm run bench -- --quick                        # 300 images, few epochs: a few minutes
 *   npm run bench -- --only embed,train --models mobilenet_v2 --out /tmp/b.json
 *   options: --quick --only LIST (embed,train,finetune,rss,predict) --models LIST
 *            --images N --rounds N --timed-epochs N --peer-images N --engine ort|tfjs --json --out FILE
 *
 * PyTorch runs as Debian's /usr/bin/python3 (GRAFT_BENCH_PYTHON overrides); where torch cannot be
 * imported its columns are skipped with a note and the suite still succeeds. Progress → stderr.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { refreshEnv } from '../src/env.js';
import { machineInfo } from './lib/machine.js';
import { fmtRate, markdownTable } from './lib/table.js';
import { log, round, torchMissing, THREADS } from './e2e/common.js';
import { DATA_ROOT, makeFashionFolder, makeJpegFolder } from './e2e/images.js';
import { benchEmbedFolder, type EmbedFolderRow } from './e2e/embed-folder.js';
import { benchTrain, type TrainRow } from './e2e/train.js';
import { benchRss, type RssRow } from './e2e/rss.js';
import { benchPredict, type PredictRow } from './e2e/predict.js';

const WORKLOADS = ['embed', 'train', 'finetune', 'rss', 'predict'] as const;
const MODELS = ['mobilenet_v2', 'resnet50'];
/** fineTuneBlocks per backbone: MobileNetV2 block_16 + top (Conv_1), ResNet50 conv5. */
const FT_BLOCKS: Record<string, number> = { mobilenet_v2: 2, resnet50: 1 };

const { values: a } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: WORKLOADS.join(',') },
    models: { type: 'string', default: MODELS.join(',') },
    images: { type: 'string' },
    rounds: { type: 'string' },
    'timed-epochs': { type: 'string' },
    'peer-images': { type: 'string' },
    engine: { type: 'string' },
    json: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const quick = a.quick!;
const cfg = {
  images: a.images ? Number(a.images) : quick ? 300 : 2000,
  rounds: a.rounds ? Number(a.rounds) : quick ? 1 : 3,
  headEpochs: quick ? 3 : 10,
  ftEpochs: quick ? 2 : 5,
  /** Epochs actually timed on the slow sides (PyTorch's per-epoch backbone pass, TF.js fine-tuning). */
  timedEpochs: a['timed-epochs'] ? Number(a['timed-epochs']) : undefined,
  rssPerClass: quick ? [30, 60, 120] : [500, 1000, 2000],
  rssEpochs: quick ? 2 : 10,
  predictRepeats: quick ? 3 : 5,
  workers: 1,
  /** PyTorch embeds an evenly spaced subset of this many images (default all): throughput, not totals, is compared. */
  peerImages: a['peer-images'] ? Number(a['peer-images']) : undefined,
};

function check(list: string, valid: readonly string[], flag: string): string[] {
  const xs = list.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = xs.filter((x) => !valid.includes(x));
  if (bad.length) {
    log(`${flag} accepts a comma-separated list of ${valid.join(', ')}. Received: ${bad.join(', ')}`);
    process.exit(2);
  }
  return xs;
}

const f2 = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));
const ratio = (x: number | undefined) => (x === undefined ? '–' : `${x.toFixed(2)}x`);
const met = (ok: boolean | undefined) => (ok === undefined ? '–' : ok ? 'yes' : 'no');

interface Results {
  embed: EmbedFolderRow[];
  train: TrainRow[];
  finetune: TrainRow[];
  rss: RssRow[];
  predict?: PredictRow;
  errors: { workload: string; error: string }[];
}

function table(r: Results): string {
  const rows: string[][] = [];
  for (const e of r.embed) {
    const best = e.median.torchContiguous === undefined ? undefined : Math.max(e.median.torchContiguous, e.median.torchChannelsLast!);
    rows.push([`embed JPEG folder, ${e.backbone}, ${e.images} img`, `${fmtRate(e.median.graft)} img/s`, best === undefined ? 'skipped' : `${fmtRate(best)} img/s`, ratio(e.ratios.graftOverTorchBest), '>= 1.5x', met(e.ratios.graftOverTorchBest === undefined ? undefined : e.ratios.graftOverTorchBest >= 1.5)]);
    rows.push([`  same, Graft / raw ORT (${fmtRate(e.median.rawOrt)} img/s)`, `${fmtRate(e.median.graft)} img/s`, '–', ratio(e.ratios.graftOverRawOrt), '>= 0.80x', met(e.ratios.graftOverRawOrt >= 0.8)]);
  }
  for (const [name, list, target] of [['train head', r.train, 5], ['fine-tune', r.finetune, 1]] as const) {
    for (const t of list) {
      const ext = t.graft.timedEpochs < t.epochs || (t.torch && t.torch.timedEpochs < t.epochs) ? '*' : '';
      rows.push([`${name}, ${t.backbone} (${t.graft.engine}), ${t.images} img, ${t.epochs} ep${t.fineTuneBlocks && t.mode === 'finetune' ? `, ${t.fineTuneBlocks} block(s)` : ''}${ext}`, `${f2(t.graft.totalS, 1)} s`, t.torch ? `${f2(t.torch.totalS, 1)} s` : 'skipped', ratio(t.speedup), `>= ${target}x`, met(t.speedup === undefined ? undefined : t.speedup >= target)]);
    }
  }
  if (r.rss.length) {
    const peak = Math.max(...r.rss.map((x) => x.peakMiB));
    rows.push([`peak RSS, head training, ${r.rss.map((x) => x.images).join(' / ')} img`, r.rss.map((x) => `${x.peakMiB}`).join(' / ') + ' MiB', '–', '–', '< 1536 MiB', met(peak < 1536)]);
  }
  if (r.predict) {
    const p = r.predict;
    rows.push(['predict one image, cold process', `${f2(p.median.graft)} s`, p.median.torch === undefined ? 'skipped' : `${f2(p.median.torch)} s`, ratio(p.median.torch === undefined ? undefined : p.median.torch / p.median.graft), '< 2 s', met(p.median.graft < 2)]);
  }
  return markdownTable(['workload', 'Graft', 'PyTorch (best layout)', 'Graft speed / PyTorch', 'target', 'met'], rows);
}

async function main(): Promise<void> {
  const only = check(a.only!, WORKLOADS, '--only');
  const models = check(a.models!, MODELS, '--models');
  const engine = a.engine === undefined ? undefined : (check(a.engine, ['ort', 'tfjs'], '--engine')[0] as 'ort' | 'tfjs');
  // Keep the bench's compiled graphs and random-weight files out of the user's Graft cache.
  if (!process.env.GRAFT_HOME) process.env.GRAFT_HOME = path.join(DATA_ROOT, 'graft-home');
  refreshEnv();
  const machine = { ...machineInfo(), command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ') };
  const missing = await torchMissing();
  if (missing) log(`note: PyTorch columns skipped: ${missing}`);
  const torch: string | true = missing ?? true;
  log(`bench ${quick ? '(quick) ' : ''}on ${machine.cpuModel} × ${machine.cores}, load ${machine.loadAvg1}; workloads ${only.join(',')}; models ${models.join(',')}`);
  const res: Results = { embed: [], train: [], finetune: [], rss: [], errors: [] };
  const t0 = performance.now();
  const attempt = async (workload: string, f: () => Promise<void>) => {
    try {
      await f();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      log(`[${workload}] failed: ${msg}`);
      res.errors.push({ workload, error: msg });
    }
  };
  const needJpegs = only.some((w) => w !== 'rss');
  const jpegs = needJpegs ? await makeJpegFolder(cfg.images) : '';
  // Layout for the training peers: channels_last (faster for MobileNetV2 and ResNet50 on this CPU, per bench:embed).
  const layout = 'channels_last';
  if (only.includes('embed')) {
    for (const m of models) await attempt(`embed ${m}`, async () => void res.embed.push(await benchEmbedFolder(m, jpegs, cfg.images, { rounds: cfg.rounds, torch, workers: cfg.workers, peerImages: cfg.peerImages })));
  }
  if (only.includes('train')) {
    for (const m of models) {
      await attempt(`train ${m}`, async () => void res.train.push(await benchTrain(m, jpegs, cfg.images, { mode: 'head', engine, epochs: cfg.headEpochs, torchTimedEpochs: cfg.timedEpochs, torch, layout, workers: cfg.workers })));
    }
  }
  if (only.includes('finetune')) {
    for (const m of models) {
      await attempt(`finetune ${m}`, async () => void res.finetune.push(await benchTrain(m, jpegs, cfg.images, { mode: 'finetune', engine, epochs: cfg.ftEpochs, timedEpochs: cfg.timedEpochs, fineTuneBlocks: FT_BLOCKS[m], torch, layout, workers: cfg.workers })));
    }
  }
  if (only.includes('rss')) {
    for (const per of cfg.rssPerClass) {
      await attempt(`rss ${per * 10}`, async () => void res.rss.push(await benchRss(await makeFashionFolder(per), per * 10, cfg.rssEpochs)));
    }
  }
  if (only.includes('predict')) {
    await attempt('predict', async () => {
      const small = await makeJpegFolder(100, 11);
      const image = path.join(jpegs, 'chelsea', '00000.jpg');
      res.predict = await benchPredict(small, image, { repeats: cfg.predictRepeats, torch });
    });
  }
  const record = {
    benchmark: 'e2e',
    machine: { ...machine, loadAvg1End: Number(os.loadavg()[0]!.toFixed(2)), loadAvg: os.loadavg().map((x) => round(x)) },
    quick,
    config: cfg,
    threads: { onnxruntime: THREADS, torch: THREADS, dataLoaderWorkers: cfg.workers },
    torch: missing ? { skipped: missing } : { python: '/usr/bin/python3' },
    totalSec: round((performance.now() - t0) / 1000, 1),
    results: res,
  };
  const notes = [
    `* = some epochs extrapolated from the median measured epoch (timed epochs are in the JSON).`,
    missing ? `PyTorch columns skipped: ${missing}.` : `PyTorch: torch.set_num_threads(${THREADS}), DataLoader num_workers=${cfg.workers}; training peers use channels_last.`,
    `Load average (1/5/15 min) at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')} on ${machine.cores} cores.`,
  ];
  if (!a.json) process.stdout.write(`${table(res)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n\n`);
  const json = JSON.stringify(record, null, 2);
  if (a.out) fs.writeFileSync(a.out, json + '\n');
  process.stdout.write(json + '\n');
  if (res.errors.length) process.exitCode = 1;
}

await main();
