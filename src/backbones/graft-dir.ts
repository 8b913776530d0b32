import type * as tf from '@tensorflow/tfjs';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GraftError } from '../errors.js';
import { readManifest, type GraftManifest } from '../io/manifest.js';
import { cutModel } from '../transfer/surgery.js';
import { listModels, getModelSpec } from '../zoo/registry.js';

const zooNames = (): string[] => listModels().map((m) => m.name);
import type { ArchitectureSpec, PreprocessMode } from '../zoo/types.js';
import { loadModelDir } from '../io/model-dir.js';

/** A trained Graft model, cut below its head, ready to serve as the backbone of a new training. */
export interface GraftBackbone {
  /** Absolute path of the source model directory. */
  dir: string;
  /** Image input → activation at the recorded cut (the source head removed). */
  model: tf.LayersModel;
  /** The loaded source model (its layers are shared with `model`); dispose it when done. */
  full: tf.LayersModel;
  manifest: GraftManifest;
  /** Layer the head started after (graft.json backbone.cut). */
  cut: string;
  preprocess: PreprocessMode;
  inputSize: [number, number];
  /** sha256 of the weight files (feature-cache key and provenance). */
  weightsHash: string;
  /** The zoo architecture underneath (layer names are preserved through chaining), when known. */
  architecture: string;
  /** Its spec, so block names (fine-tuning, discriminative rates) keep working. */
  spec?: ArchitectureSpec;
}

/** Whether `p` is a Graft model directory (a folder holding graft.json). */
export function isGraftModelDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory() && fs.existsSync(path.join(p, 'graft.json'));
  } catch {
    return false;
  }
}

/** sha256 over the weight files a model.json lists, in order. */
export function weightsSha256(modelJson: string): string {
  const json = JSON.parse(fs.readFileSync(modelJson, 'utf8')) as { weightsManifest?: { paths: string[] }[] };
  const h = crypto.createHash('sha256');
  for (const group of json.weightsManifest ?? []) for (const p of group.paths) h.update(fs.readFileSync(path.resolve(path.dirname(modelJson), p)));
  return h.digest('hex');
}

/**
 * Chained (inductive) transfer: load a Graft model directory and cut it at the layer its head
 * started after, so a new head can be trained on a related task. Preprocessing and input size
 * come from its graft.json; its weights hash keys the feature cache.
 *
 * @example
 * const bb = await resolveGraftBackbone('models/shoes-5');
 * const full = addHead(bb.model, { classes: 5 });            // the new task's network
 * const frozen = await FrozenBackbone.fromLayersModel(bb.model, { preprocess: bb.preprocess });
 */
export async function resolveGraftBackbone(modelDir: string): Promise<GraftBackbone> {
  if (!isGraftModelDir(modelDir)) {
    throw new GraftError('E_NOT_A_MODEL_DIR', `A Graft backbone must be a model directory holding graft.json. Received: ${modelDir}`, `Pass the --out folder of an earlier \`graft train\`, or a zoo name (${zooNames().join(', ')}).`);
  }
  const dir = path.resolve(modelDir);
  const manifest = readManifest(dir);
  const { model: full } = await loadModelDir(dir);
  const cut = manifest.backbone.cut;
  if (!full.layers.some((l) => l.name === cut)) {
    full.dispose();
    throw new GraftError('E_CHAIN_CUT', `${dir}/graft.json records cut layer "${cut}", which its model.json lacks.`, 'The directory was edited or is damaged; retrain the source model.');
  }
  const architecture = manifest.backbone.name;
  const spec = zooNames().includes(architecture) ? getModelSpec(architecture) : undefined;
  return {
    dir,
    model: cutModel(full, cut, spec),
    full,
    manifest,
    cut,
    preprocess: manifest.preprocess,
    inputSize: [manifest.inputSize[0], manifest.inputSize[1]],
    weightsHash: weightsSha256(path.join(dir, manifest.files.tfjs)),
    architecture,
    spec,
  };
}
