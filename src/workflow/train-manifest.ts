import * as tf from '@tensorflow/tfjs';
import type { GraftManifest } from '../io/manifest.js';
import type { ReportNote } from '../evaluate/report/types.js';
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

/**
 * What a training run chose and why, in a line or two for the user: the recipe, the cut, the
 * head, and the validated estimate behind the choice.
 *
 * @example
 * describeChoice(manifest); // 'linear head at block_14 + block_15, chosen by 5-fold cross-validation …'
 */
export function describeChoice(m: GraftManifest): string {
  const stages = (m.training.stages ?? []) as { stage: string; protocol?: string; folds?: number; rounds?: number; note?: string; candidates?: unknown[]; epochs?: number; chosen?: { combine?: string; cuts: string[]; head?: string } }[];
  const probe = stages.find((s) => s.stage === 'probe');
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  if (probe) {
    const cv = (m.metrics.cv ?? m.metrics.heldOut) as { accuracy: number; sd: number } | undefined;
    const rounds = probe.rounds ?? 1;
    const folds = (probe.folds ?? 0) / Math.max(1, rounds);
    const est = cv ? `: ${probe.protocol === 'cv' ? `${rounds > 1 ? `${rounds} × ` : ''}${folds}-fold cross-validated` : 'held-out'} accuracy ${pct(cv.accuracy)} ± ${pct(cv.sd)}` : '';
    const list = probe.candidates as { cuts: string[]; combine?: string }[];
    const cands = [...new Set(list.filter((c) => !c.combine).map((c) => c.cuts.join('+')))];
    const singles = cands.filter((c) => !c.includes('+')).length;
    const ensemble = list.some((c) => c.combine === 'ensemble');
    const how = probe.protocol === 'none' ? ' (one image in some class, so nothing could be validated: add images to let Graft choose)' : ` — best of ${singles} cut(s)${cands.length > singles ? ', the best two together' : ''}${ensemble ? ' and the average of every cut\'s linear head (preferred unless beaten by more than one standard error)' : ''} × linear and prototype heads`;
    const chosen = probe.chosen as { combine?: string; cuts: string[]; head?: string } | undefined;
    const at = chosen?.combine === 'ensemble' ? `the average of ${chosen.cuts.length} linear heads, one at each of ${chosen.cuts.join(', ')}` : `${chosen?.head ?? m.head.kind} head at ${(chosen?.cuts ?? m.backbone.cut.split('+')).join(' + ')}`;
    const ft = (probe as { fineTune?: { tried: boolean; kept?: boolean; why: string; valAccuracy?: number; frozenValAccuracy?: number } }).fineTune;
    const vs = ft?.valAccuracy !== undefined ? `held-out ${pct(ft.valAccuracy)} fine-tuned vs ${pct(ft.frozenValAccuracy!)} frozen` : '';
    if (ft?.kept) {
      const f = stages.find((s) => s.stage === 'fine-tune') as { blocks?: string[]; from?: string } | undefined;
      return `the frozen search chose ${at}${est}${how}; then fine-tuning ${f?.blocks?.join(', ') ?? 'the top blocks'} from ${f?.from ?? m.backbone.cut} won (${vs}), so the model is the fine-tuned network, trained on the ${m.dataset.counts.train}-image training split`;
    }
    const frozen = ft?.tried ? `fine-tuning was tried and lost, ${vs}` : ft ? `fine-tuning not tried: ${ft.why}` : 'fine-tuning runs only with --fine-tune-blocks';
    return `${at}${est}${how}, refit on all ${Number(m.dataset.counts.train) + Number(m.dataset.counts.val)} labelled images; backbone frozen (${frozen})`;
  }
  return `${stages.map((s) => `${s.stage}${s.epochs !== undefined ? ` (${s.epochs} epochs)` : ''}`).join(' → ')} at ${m.backbone.cut}, ${m.head.kind} head`;
}

/**
 * The report's account of the choice: validated accuracy by cut for each head kind (a chart and
 * a table), and what was picked.
 */
export function reportNotes(m: GraftManifest): ReportNote[] {
  const probe = ((m.training.stages ?? []) as { stage: string; note?: string; candidates?: { cuts: string[]; head: string; accuracy: number; sd: number; C?: number; combine?: string }[] }[]).find((s) => s.stage === 'probe');
  if (!probe?.candidates?.length) return [];
  const label = (c: { cuts: string[]; combine?: string }) => (c.combine === 'ensemble' ? 'all cuts (ensemble)' : c.cuts.join(' + '));
  const cands = probe.candidates.map((c) => ({ ...c, cuts: [label(c)] }));
  const names = [...new Set(cands.map((c) => c.cuts[0]!))];
  const colors: Record<string, string> = { linear: '#2563eb', prototype: '#16a34a' };
  const series = Object.keys(colors).map((head) => ({
    name: head,
    color: colors[head]!,
    points: names.flatMap((n, i) => cands.filter((c) => c.head === head && c.cuts[0] === n).map((c) => ({ x: i + 1, y: c.accuracy * 100 }))),
  })).filter((s) => s.points.length);
  const items: [string, string][] = names.map((n) => [n, cands.filter((c) => c.cuts[0] === n).map((c) => `${c.head} ${(c.accuracy * 100).toFixed(1)}% ± ${(c.sd * 100).toFixed(1)}${c.C !== undefined ? ` (C=${c.C})` : ''}`).join('  ·  ')]);
  return [
    {
      title: 'Which layer transfers best',
      text: `Chosen: ${describeChoice(m)}.\n\n${probe.note ?? ''}. Each point is a cut (the backbone layer the head reads, shallow to deep; then the best two together, and the average of every cut's linear head) and a head kind, scored on images it was not fitted on.`,
      chart: { series, options: { title: 'validated accuracy by cut', xLabel: 'cut', yLabel: 'accuracy %', xTick: (v) => { const s = names[Math.round(v) - 1] ?? ''; return s.includes('+') ? 'best two' : s.startsWith('all cuts') ? 'all (ensemble)' : s; } } },
      items,
    },
  ];
}
