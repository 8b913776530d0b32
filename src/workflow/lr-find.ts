import path from 'node:path';
import { addHead } from '../transfer/head.js';
import { createEngine } from '../engine/index.js';
import { lrFind, lrFindSvg, type LrFindResult } from '../train/lr-find.js';
import { atomicWrite } from '../io/atomic.js';
import { checkFileOut } from '../io/out-target.js';
import { openBackbone, splitForHead } from '../backbones/index.js';
import { cachedExtract } from '../features/cached.js';
import { featureSource } from '../features/feature-set.js';
import type { GraftEvent } from '../events.js';
import { parseTrainOptions, type TrainOptions } from '../options.js';
import { prepareData } from '../data/prepare.js';
import { eventLog } from '../io/event-log.js';

/**
 * The learning-rate range test on the real task: the backbone's cached features (any backbone
 * kind) feed a fresh head whose loss is recorded while the rate grows exponentially, on the
 * engine the options pick. Writes `svg` when given.
 *
 * @example
 * const r = await findLearningRate({ data: 'photos/', out: 'unused' }, { svg: 'lr.svg' });
 * console.log(r.suggestion);
 */
export async function findLearningRate(raw: TrainOptions, opts: { svg?: string; steps?: number; onEvent?: (e: GraftEvent) => void } = {}): Promise<LrFindResult> {
  const o = parseTrainOptions(raw);
  if (opts.svg) checkFileOut(opts.svg, { force: o.force, protect: [o.data, o.val, o.test], flag: '--plot' });
  if (o.log) opts = { ...opts, onEvent: eventLog(o.log, { force: o.force, protect: [o.data, o.val, o.test] }, opts.onEvent) };
  const data = await prepareData(o);
  const bb = await openBackbone(o.backbone, { weights: o.weights, cut: o.cut, preprocess: o.preprocess, inputSize: o.inputSize, cacheDir: o.cacheDir, onEvent: opts.onEvent });
  try {
    const full = addHead(bb.base, { classes: data.classes.length, hidden: o.hidden, dropout: o.dropout, pooling: o.pooling });
    const split = splitForHead(bb, full, o.pooling);
    const feats = await cachedExtract(split.extractor, data.train, split.key, { cacheDir: o.cacheDir, label: 'backbone train', onEvent: opts.onEvent });
    const engine = await createEngine(o.engine, split.top, { optimizer: { type: o.optimizer, lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay }, seed: o.seed }, { onFallback: (why) => opts.onEvent?.({ type: 'warning', message: why }) });
    try {
      const r = await lrFind(engine, featureSource(feats.features, { batchSize: o.batchSize, shuffle: true, seed: o.seed }), { steps: opts.steps ?? 100 });
      if (opts.svg) await atomicWrite(path.resolve(opts.svg), lrFindSvg(r));
      return r;
    } finally {
      engine.dispose();
    }
  } finally {
    bb.dispose();
  }
}
