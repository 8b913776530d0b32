import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { withStagedDir, atomicWrite } from './atomic.js';
import { GraftError } from '../errors.js';
import { checkModelOut } from './out-target.js';
import { fileSaveHandler, fileLoadHandler } from './tfjs-files.js';
import { readManifest, modelProblems, type GraftManifest } from './manifest.js';
import { exportOnnx } from '../engine/onnx/export.js';
import { renderReport, type ReportData, type ReportExample } from '../evaluate/report/index.js';
import type { Evaluation } from '../evaluate/metrics.js';
import type { EpochLogs } from '../train/fit.js';
import { initTf } from '../engine/tfjs/backend.js';
import '../zoo/layers.js'; // registers Graft's custom layers (EfficientNet's Normalization) for loading

export interface SaveInputs {
  /** The complete network: raw-size image input → class probabilities. */
  model: tf.LayersModel;
  manifest: GraftManifest;
  evaluation?: Evaluation;
  history?: (EpochLogs & { stage?: string })[];
  /** Paths of the evaluated images, row order of `evaluation` (thumbnails of the worst errors). */
  evalPaths?: string[];
  writeOnnx?: boolean;
  writeReport?: boolean;
  notes?: ReportData['notes'];
  /** A precomposed ONNX pipeline (ONNX backbones) instead of exporting `model`. */
  onnxBytes?: Uint8Array;
  /** Further files to copy in: name in the model directory → source path. */
  extraFiles?: Record<string, string>;
  /** Replace Graft's own earlier model directory at `out` (see checkModelOut). */
  force?: boolean;
  /** Paths this run reads, never written over. */
  protect?: (string | undefined)[];
}

/**
 * Write a model directory at once (staged, then swapped in): model.json + weights.bin (stock
 * TF.js), model.onnx (preprocessing + network + softmax, raw RGB [0,255] NHWC in), graft.json,
 * report.html.
 */
export async function saveModelDir(out: string, s: SaveInputs): Promise<void> {
  checkModelOut(out, { force: s.force, protect: s.protect });
  await withStagedDir(out, async (dir) => {
    await s.model.save(fileSaveHandler(path.join(dir, 'model.json')));
    if (s.writeOnnx !== false) {
      const bytes = s.onnxBytes ?? exportOnnx(s.model, { preprocess: s.manifest.preprocess, name: `graft_${s.manifest.backbone.name}` });
      await atomicWrite(path.join(dir, 'model.onnx'), bytes);
    }
    await atomicWrite(path.join(dir, 'graft.json'), JSON.stringify(s.manifest, null, 2) + '\n');
    for (const [name, src] of Object.entries(s.extraFiles ?? {})) {
      if (fs.existsSync(src)) fs.copyFileSync(src, path.join(dir, name));
    }
    if (s.writeReport !== false && s.evaluation) {
      await atomicWrite(path.join(dir, 'report.html'), await buildReport(s));
    }
  });
}

export async function thumbnail(file: string, size = 96): Promise<{ data: Uint8Array; mime: 'image/png' } | undefined> {
  try {
    const data = await sharp(file).rotate().resize(size, size, { fit: 'inside', kernel: 'nearest' }).png().toBuffer();
    return { data: new Uint8Array(data), mime: 'image/png' };
  } catch {
    return undefined;
  }
}

export async function buildReport(s: SaveInputs): Promise<string> {
  const m = s.manifest;
  const ev = s.evaluation!;
  const worst: ReportExample[] = [];
  for (const w of ev.worst) {
    const p = s.evalPaths?.[w.index];
    worst.push({ ...w, name: p ? path.basename(path.dirname(p)) + '/' + path.basename(p) : undefined, thumbnail: p ? await thumbnail(p) : undefined });
  }
  const trainable = s.model.trainableWeights.reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0);
  const data: ReportData = {
    createdAt: m.createdAt,
    graftVersion: m.graftVersion,
    model: {
      name: path.basename(path.resolve(m.files.tfjs ? '.' : '.')),
      backbone: `${m.backbone.name} (weights: ${m.backbone.weights.source})`,
      cutLayer: m.backbone.cut,
      inputSize: m.inputSize,
      engine: String(m.training.engine ?? 'tfjs'),
      params: { trainable, total: s.model.countParams() },
      extra: [
        ['Preprocessing', m.preprocess],
        ['Frozen up to', m.backbone.frozenUpTo ?? 'nothing (whole network trained)'],
        ['Weights sha256', m.backbone.weights.sha256 ?? '—'],
        ['Dataset fingerprint', m.dataset.fingerprint.slice(0, 16)],
      ],
    },
    classes: m.classes,
    dataset: {
      train: Number(m.dataset.counts.train ?? 0),
      val: Number(m.dataset.counts.val ?? 0),
      test: Number(m.dataset.counts.test ?? 0),
      source: m.dataset.root,
      skipped: m.dataset.skipped,
    },
    history: s.history,
    evaluation: { ...ev, split: String(m.metrics.split ?? 'validation') },
    worst,
    thumbnailRendering: m.inputSize[0] > 0 && (await smallImages(s.evalPaths)) ? 'pixelated' : 'smooth',
    notes: s.notes,
  };
  data.model.name = m.backbone.name + ' → ' + m.classes.length + ' classes';
  return renderReport(data);
}

async function smallImages(paths?: string[]): Promise<boolean> {
  const p = paths?.[0];
  if (!p) return false;
  try {
    const meta = await sharp(p).metadata();
    return (meta.width ?? 999) <= 64;
  } catch {
    return false;
  }
}

/**
 * Load a model directory: the TF.js model (stock format) and its validated graft.json.
 *
 * @example
 * const { model, manifest } = await loadModelDir('my-model');
 */
export async function loadModelDir(dir: string): Promise<{ model: tf.LayersModel; manifest: GraftManifest }> {
  const manifest = readManifest(dir);
  await initTf();
  const file = path.join(dir, manifest.files.tfjs);
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(fileLoadHandler(file));
  } catch (e) {
    throw new GraftError('E_MODEL_DIR_DAMAGED', `${file} cannot be loaded: ${(e as Error).message.split('\n')[0]}`, 'The model directory is incomplete or damaged (a truncated weights.bin?): train or export it again.');
  }
  const problems = modelProblems(manifest, model.outputs[0]!.shape, manifest.files.tfjsInput === 'features' ? undefined : model.inputs[0]!.shape);
  if (problems.length) {
    model.dispose();
    throw new GraftError('E_MODEL_DIR_MISMATCH', `${dir}: graft.json and ${manifest.files.tfjs} disagree:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'The directory was edited by hand or mixed from two models: train or export it again.');
  }
  return { model, manifest };
}


export function modelDirExists(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'graft.json'));
}
