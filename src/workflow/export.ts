import fs from 'node:fs';
import path from 'node:path';
import { GraftError } from '../errors.js';
import { readManifest } from '../io/manifest.js';
import { atomicWrite } from '../io/atomic.js';
import { checkModelOut } from '../io/out-target.js';
import { exportOnnx } from '../engine/onnx/export.js';
import { fileSaveHandler } from '../io/tfjs-files.js';
import { loadModelDir } from '../io/model-dir.js';

/**
 * Write a model directory's network as a stock TF.js layers model (`model.json` + `weights.bin`)
 * or as one ONNX graph (`model.onnx`: raw RGB [0,255] NHWC float32 in, class probabilities out),
 * with `graft.json` beside it for class names and preprocessing.
 *
 * @example
 * await exportModelDir('my-model', 'onnx', 'web/model');
 */
export async function exportModelDir(modelDir: string, format: 'tfjs' | 'onnx', out: string, opts: { force?: boolean } = {}): Promise<string[]> {
  if (format !== 'tfjs' && format !== 'onnx') {
    throw new GraftError('E_EXPORT_FORMAT', `Unknown export format. Received: format=${String(format)}.`, 'Should be one of: tfjs, onnx.');
  }
  const manifest = readManifest(modelDir);
  // Into the model directory itself (adds or rewrites its own artifact), or a folder that is new,
  // empty or Graft's own; there, replacing an earlier export's file takes --force (adding one,
  // e.g. model.onnx beside a TF.js export, does not).
  if (path.resolve(out) !== path.resolve(modelDir)) {
    checkModelOut(out, { force: true });
    const names = format === 'tfjs' ? ['model.json', 'weights.bin'] : ['model.onnx'];
    const there = names.filter((n) => fs.existsSync(path.join(out, n)));
    if (there.length && !opts.force) {
      throw new GraftError('E_OUT_EXISTS', `--out ${out} already holds an earlier export (${there.join(', ')}).`, 'Pass --force to replace it, or choose a new --out path.');
    }
  }
  const { model } = await loadModelDir(modelDir);
  try {
    fs.mkdirSync(out, { recursive: true });
    const written: string[] = [];
    if (format === 'tfjs') {
      await model.save(fileSaveHandler(path.join(out, 'model.json')));
      written.push(path.join(out, 'model.json'), path.join(out, 'weights.bin'));
    } else {
      // An ONNX-backbone model's pipeline was composed at training time (the backbone is not a
      // TF.js model); copy it. Zoo models are re-exported from the TF.js model.
      const composed = path.join(modelDir, manifest.files.onnx ?? 'model.onnx');
      if (manifest.backbone.kind === 'onnx' && !fs.existsSync(composed)) {
        throw new GraftError('E_NO_ONNX', `${modelDir} was trained on an ONNX backbone but has no ${composed}.`, 'Retrain with --onnx (the default).');
      }
      const bytes = manifest.backbone.kind === 'onnx' ? fs.readFileSync(composed) : exportOnnx(model, { preprocess: manifest.preprocess, name: `graft_${manifest.backbone.name}` });
      await atomicWrite(path.join(out, 'model.onnx'), bytes);
      written.push(path.join(out, 'model.onnx'));
    }
    if (path.resolve(out) !== path.resolve(modelDir)) {
      const m = { ...manifest, files: { ...manifest.files, tfjs: 'model.json', onnx: format === 'onnx' ? 'model.onnx' : undefined, report: undefined } };
      await atomicWrite(path.join(out, 'graft.json'), JSON.stringify(m, null, 2) + '\n');
      written.push(path.join(out, 'graft.json'));
    }
    return written;
  } finally {
    model.dispose();
  }
}
