import { z } from 'zod';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { GraftError } from './errors.js';
import { DEFAULTS } from './env.js';

/**
 * Everything `graft train` (and `trainClassifier`) accepts. The CLI flags, a `--config` file
 * (JSON or YAML) and library calls all go through this one schema, so they validate alike.
 */
export const trainOptionsSchema = z
  .object({
    data: z.string().min(1),
    out: z.string().min(1),
    backbone: z.string().default(DEFAULTS.backbone),
    weights: z.string().default(DEFAULTS.weights),
    /** Layer or block to cut at; unset or 'auto': the best of the candidate cuts, chosen by cross-validation. */
    cut: z.string().optional().transform((v) => (v === 'auto' ? undefined : v)),
    /** Epochs of gradient training. Unset: the head is solved to convergence (probe recipe); gradient recipes train DEFAULTS.epochs. */
    epochs: z.number().int().min(1).optional(),
    batchSize: z.number().int().min(1).default(32),
    lr: z.number().positive().default(1e-3),
    optimizer: z.enum(['adam', 'sgd', 'adamw']).default('adam'),
    momentum: z.number().min(0).max(1).default(0.9),
    weightDecay: z.number().min(0).default(0),
    schedule: z.enum(['constant', 'cosine', 'one-cycle']).default('one-cycle'),
    labelSmoothing: z.number().min(0).max(0.5).default(0),
    classWeights: z.union([z.literal('balanced'), z.literal('none')]).default('none'),
    /** 'dense': a trained head; 'prototype' / 'knn': computed from embeddings, no gradient steps. */
    head: z.enum(['auto', 'linear', 'dense', 'prototype', 'knn']).default('auto'),
    /** Neighbours of the kNN head. */
    k: z.number().int().min(1).default(5),
    hidden: z.array(z.number().int().positive()).default([]),
    dropout: z.number().min(0).max(0.95).default(0.2),
    pooling: z.enum(['avg', 'max']).default('avg'),
    /** Fine-tune recipe: after the head, unfreeze the top N named blocks, or 'all' (the whole network). */
    fineTuneBlocks: z.union([z.number().int().min(0), z.literal('all')], { message: "a whole number of blocks ≥ 0, or 'all'" }).default(0),
    fineTuneEpochs: z.number().int().min(0).optional(),
    /** Learning-rate ratio between successive earlier blocks (discriminative rates). */
    lrDecay: z.number().positive().max(1).default(0.5),
    fineTuneLrFactor: z.number().positive().max(1).default(0.1),
    /**
     * The default recipe tries fine-tuning from the chosen cut at 1,000 labelled images or more
     * and keeps it only when it wins on the held-out split; false: never try (faster).
     */
    fineTuneTrial: z.boolean().default(true),
    augment: z.boolean().default(false),
    seed: z.number().int().default(DEFAULTS.seed),
    valSplit: z.number().min(0).max(0.9).default(0.2),
    /** Manifests may list images outside their own folder (refused otherwise). */
    allowOutside: z.boolean().default(false),
    /** Preprocessing override (required sense for ONNX backbones; default there 'torch'). */
    preprocess: z.enum(['caffe', 'tf', 'torch', 'raw01', 'none']).optional(),
    val: z.string().optional(),
    test: z.string().optional(),
    inputSize: z.number().int().min(32).optional(),
    earlyStopping: z.number().int().min(0).default(0),
    /**
     * Seconds the run may spend choosing and training (counted from its start): the cut and head
     * search scores candidates until then (at least one), gradient training stops at the first
     * epoch end past it. The one backbone pass over the images is never cut short.
     */
    timeBudget: z.number().positive().optional(),
    trainBnStats: z.boolean().default(false),
    microBatch: z.number().int().min(1).optional(),
    /** Training engine for the part after the cut: onnxruntime training graphs or TF.js (wasm). */
    engine: z.enum(['ort', 'tfjs']).default('ort'),
    report: z.boolean().default(true),
    onnx: z.boolean().default(true),
    cacheDir: z.string().optional(),
    /** Replace Graft's own earlier model directory at `out` (never anything else). */
    force: z.boolean().default(false),
    /**
     * Continue an interrupted run from its checkpoint (`<out>.checkpoint`); an error when there
     * is none or it belongs to other data or options. Without it (and without `restart`) a run
     * resumes when it finds its own checkpoint, and says so.
     */
    resume: z.boolean().default(false),
    /** Ignore any checkpoint beside `out` and start the run over. */
    restart: z.boolean().default(false),
    /** Also write every event (stages, progress, warnings) to this file as JSON lines. */
    log: z.string().optional(),
    quiet: z.boolean().default(false),
  })
  .strict();

export type TrainOptions = z.input<typeof trainOptionsSchema>;
export type ResolvedTrainOptions = z.output<typeof trainOptionsSchema>;

/** Validate options; every problem is listed with its path and what was received. */
export function parseTrainOptions(raw: unknown, origin = 'options'): ResolvedTrainOptions {
  const r = trainOptionsSchema.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new GraftError('E_BAD_OPTIONS', `Invalid ${origin}:\n${lines.join('\n')}`, 'See `graft train --help` for every option and its range.');
}

/** Read a --config file (JSON or YAML by extension) into a plain object. */
export function readConfigFile(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) throw new GraftError('E_NO_CONFIG', `Config file not found: ${file}`);
  const text = fs.readFileSync(file, 'utf8');
  try {
    const ext = path.extname(file).toLowerCase();
    const v = ext === '.yaml' || ext === '.yml' ? YAML.parse(text) : JSON.parse(text);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('top level must be an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new GraftError('E_BAD_CONFIG', `Cannot parse ${file}: ${(e as Error).message}`, 'Use JSON (.json) or YAML (.yaml/.yml) with option names as in `graft train --help` (camelCase).');
  }
}
