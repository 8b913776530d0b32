import * as tf from '@tensorflow/tfjs';
import type { GraftManifest } from '../io/manifest.js';
import { GRAFT_VERSION } from '../io/manifest.js';
import type { Evaluation } from '../evaluate/metrics.js';
import type { RecipeContext } from '../recipes/context.js';
import type { RecipeResult } from '../recipes/index.js';

/** graft.json for a finished training run: what ran, on what, and how well. */
export function trainManifest(ctx: RecipeContext, r: RecipeResult, evaluation: Evaluation, t0: number): GraftManifest {
  const { o, data, bb } = ctx;
  const fewShot = o.head === 'prototype' || o.head === 'knn';
  const head = r.head ?? { kind: fewShot ? (o.head as 'prototype' | 'knn') : 'dense', hidden: fewShot ? [] : o.hidden, dropout: fewShot ? 0 : o.dropout };
  return {
    graftVersion: GRAFT_VERSION,
    createdAt: new Date().toISOString(),
    task: 'image-classification',
    classes: data.classes,
    inputSize: bb.inputSize,
    preprocess: bb.preprocess,
    resize: 'crop',
    backbone: { kind: bb.kind, name: bb.name, weights: bb.weights, cut: r.cut ?? bb.cut, frozenUpTo: r.frozenUpTo },
    head: { pooling: o.pooling, hidden: head.hidden, dropout: head.dropout, activation: 'softmax', kind: head.kind },
    training: { ...o, stages: ctx.stages, engine: [...ctx.engines].join('+'), backend: tf.getBackend(), seconds: (Date.now() - t0) / 1000, backboneRuns: ctx.backboneRuns },
    metrics: {
      split: data.test.length ? 'test' : (r.heldOut?.split ?? 'validation'),
      accuracy: evaluation.accuracy,
      top5: evaluation.topK.find((t) => t.k === 5)?.accuracy,
      macroF1: evaluation.macro.f1,
      loss: evaluation.loss,
      count: data.test.length || !r.heldOut ? r.evalFeatures.labels.length : r.heldOut.labels.length,
      ...r.metrics,
    },
    history: ctx.history as unknown as Record<string, unknown>[],
    dataset: {
      root: data.root,
      fingerprint: data.fingerprint,
      counts: { train: data.train.length, val: data.val.length, test: data.test.length },
      skipped: dedupeSkipped(ctx.skipped),
      warnings: data.warnings,
    },
    adaptation: [],
    files: { tfjs: 'model.json', tfjsInput: bb.kind === 'onnx' ? 'features' : 'image', onnx: o.onnx ? 'model.onnx' : undefined, report: o.report ? 'report.html' : undefined },
  };
}

function dedupeSkipped(list: { path: string; reason: string }[]): { path: string; reason: string }[] {
  const seen = new Set<string>();
  return list.filter((s) => (seen.has(s.path) ? false : (seen.add(s.path), true)));
}
