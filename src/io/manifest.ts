import { z } from 'zod';
import fs from 'node:fs';
import path from 'node:path';
import { GraftError } from '../errors.js';

export const GRAFT_VERSION: string = JSON.parse(
  fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
).version;

const preprocessMode = z.enum(['caffe', 'tf', 'torch', 'raw01', 'none']);

/** The schema of graft.json: everything needed to rebuild, reuse or audit a model directory. */
export const manifestSchema = z.object({
  graftVersion: z.string(),
  createdAt: z.string(),
  task: z.literal('image-classification'),
  classes: z.array(z.string()).min(2),
  /** [height, width] of the network input. */
  inputSize: z.tuple([z.number().int().positive(), z.number().int().positive()]),
  preprocess: preprocessMode,
  resize: z.enum(['crop', 'squash']).default('crop'),
  backbone: z.object({
    kind: z.enum(['zoo', 'onnx', 'graft']),
    name: z.string(),
    weights: z.object({
      source: z.string(),
      sha256: z.string().optional(),
      file: z.string().optional(),
      origin: z.string().optional(),
      license: z.string().optional(),
    }),
    /** Layer where the backbone was cut (the head starts after it). */
    cut: z.string(),
    /** Layer up to which weights stayed frozen during training (null: nothing frozen). */
    frozenUpTo: z.string().nullable(),
  }),
  head: z.object({
    pooling: z.string(),
    hidden: z.array(z.number().int()),
    dropout: z.number(),
    activation: z.string(),
    kind: z.enum(['dense', 'linear', 'prototype', 'knn']).default('dense'),
  }),
  training: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()),
  history: z.array(z.record(z.string(), z.unknown())).default([]),
  dataset: z.object({
    root: z.string(),
    fingerprint: z.string(),
    counts: z.record(z.string(), z.number()),
    skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
    warnings: z.array(z.string()).default([]),
  }),
  adaptation: z.array(z.record(z.string(), z.unknown())).default([]),
  files: z.object({
    tfjs: z.string(),
    /** What model.json takes: 'image' (preprocessed pixels) or 'features' (ONNX-backbone heads). */
    tfjsInput: z.enum(['image', 'features']).default('image'),
    onnx: z.string().optional(),
    report: z.string().optional(),
  }),
});

export type GraftManifest = z.infer<typeof manifestSchema>;

/** Read and validate a model directory's graft.json; every problem is listed with its path. */
export function readManifest(dir: string): GraftManifest {
  const file = path.join(dir, 'graft.json');
  if (!fs.existsSync(file)) {
    throw new GraftError('E_NOT_A_MODEL_DIR', `${dir} is not a Graft model directory: graft.json is missing.`, 'Pass the --out folder of `graft train`.');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new GraftError('E_BAD_MANIFEST', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  const r = manifestSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new GraftError('E_BAD_MANIFEST', `${file} does not match Graft's schema:\n${lines.join('\n')}`);
  }
  return r.data;
}

/** What a loaded network's input and output shapes contradict in graft.json (empty when they agree). */
export function modelProblems(m: GraftManifest, output: readonly (number | null)[], input?: readonly (number | null)[]): string[] {
  const out: string[] = [];
  const width = output[output.length - 1];
  if (width !== m.classes.length) out.push(`graft.json lists ${m.classes.length} classes; the network outputs ${width} probabilities`);
  if (input && input.length === 4 && input[1] !== null && (input[1] !== m.inputSize[0] || input[2] !== m.inputSize[1])) out.push(`graft.json says input ${m.inputSize.join('×')}; the network takes ${input[1]}×${input[2]}`);
  return out;
}
