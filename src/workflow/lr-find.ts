import path from 'node:path';
import { initTf } from '../engine/backend.js';
import { FrozenBackbone } from '../engine/ort.js';
import { createModel, getModelSpec } from '../zoo/registry.js';
import { cutModel, splitAt } from '../transfer/surgery.js';
import { addHead } from '../transfer/head.js';
import { createTfjsEngine } from '../train/tfjs-engine.js';
import { lrFind, lrFindSvg, type LrFindResult } from '../train/lr-find.js';
import { atomicWrite } from '../io/atomic.js';
import { checkFileOut } from '../io/out-target.js';
import { parseTrainOptions, type TrainOptions } from './options.js';
import { prepareData, type TrainEvent } from './train.js';
import { cachedExtract } from '../features/cached.js';
import { featureSource } from '../features/feature-set.js';

/**
 * The learning-rate range test on the real task: the backbone's cached features feed a fresh head
 * whose loss is recorded while the rate grows exponentially. Writes `<out>` (SVG) when given.
 *
 * @example
 * const r = await findLearningRate({ data: 'photos/', out: 'unused' }, { svg: 'lr.svg' });
 * console.log(r.suggestion);
 */
export async function findLearningRate(raw: TrainOptions, opts: { svg?: string; steps?: number; onEvent?: (e: TrainEvent) => void } = {}): Promise<LrFindResult> {
  const o = parseTrainOptions(raw);
  if (opts.svg) checkFileOut(opts.svg, { force: o.force, protect: [o.data, o.val, o.test], flag: '--plot' });
  await initTf();
  const data = await prepareData(o);
  const spec = getModelSpec(o.backbone);
  const size: [number, number] = o.inputSize ? [o.inputSize, o.inputSize] : [spec.defaultInputShape[0], spec.defaultInputShape[1]];
  const created = await createModel(o.backbone, { includeTop: false, weights: o.weights, inputShape: [size[0], size[1], 3], pooling: null });
  const preprocess = created.pretrained?.preprocess ?? spec.defaultPreprocess;
  const cut = o.cut ?? spec.featureLayer;
  const full = addHead(cutModel(created.model, cut, spec), { classes: data.classes.length, hidden: o.hidden, dropout: o.dropout, pooling: o.pooling });
  const split = splitAt(full, cut, spec);
  const bb = await FrozenBackbone.fromLayersModel(split.frozen, { preprocess, cacheDir: o.cacheDir });
  try {
    const feats = await cachedExtract(
      { inputSize: size, outputShape: bb.outputShape, run: (x, n) => bb.run(x, n) },
      data.train,
      { backbone: `${o.backbone}@graft-exporter`, weights: created.weights?.sha256 ?? bb.hash, cut, preprocess, size },
      { cacheDir: o.cacheDir, label: 'backbone train', onEvent: opts.onEvent },
    );
    const engine = await createTfjsEngine(split.top, { optimizer: { type: o.optimizer, lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay }, seed: o.seed });
    const r = await lrFind(engine, featureSource(feats.features, { batchSize: o.batchSize, shuffle: true, seed: o.seed }), { steps: opts.steps ?? 100 });
    engine.dispose();
    if (opts.svg) await atomicWrite(path.resolve(opts.svg), lrFindSvg(r));
    return r;
  } finally {
    bb.dispose();
    created.model.dispose();
  }
}
