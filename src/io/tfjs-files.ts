import * as tf from '@tensorflow/tfjs';
import fs from 'node:fs';
import path from 'node:path';
import { GraftError } from '../errors.js';
import { atomicWrite } from './atomic.js';

/**
 * TF.js' canonical on-disk format (`model.json` + one `weights.bin`) through the tiny IOHandler
 * interface, without tfjs-node. The files are exactly what `tf.loadLayersModel('…/model.json')`
 * reads in a browser or in Node with stock `@tensorflow/tfjs`.
 *
 * @example
 * await model.save(fileSaveHandler('out/model.json'));
 * const again = await tf.loadLayersModel(fileLoadHandler('out/model.json'));
 */
export function fileSaveHandler(modelJsonPath: string, opts: { weightsFile?: string } = {}): tf.io.IOHandler {
  const weightsFile = opts.weightsFile ?? 'weights.bin';
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const dir = path.dirname(modelJsonPath);
      fs.mkdirSync(dir, { recursive: true });
      const weightData = artifacts.weightData
        ? Buffer.from(concatWeightData(artifacts.weightData))
        : Buffer.alloc(0);
      const json = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: 'graft',
        modelTopology: artifacts.modelTopology,
        trainingConfig: artifacts.trainingConfig,
        weightsManifest: [{ paths: [`./${weightsFile}`], weights: artifacts.weightSpecs ?? [] }],
      };
      await atomicWrite(path.join(dir, weightsFile), weightData);
      await atomicWrite(modelJsonPath, JSON.stringify(json));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weightData.byteLength,
        },
      };
    },
  };
}

function concatWeightData(w: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  if (!Array.isArray(w)) return new Uint8Array(w);
  const total = w.reduce((s, b) => s + b.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of w) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

/** Reads `model.json` and its weight shards (any number, as listed in its manifest). */
export function readModelArtifacts(modelJsonPath: string): tf.io.ModelArtifacts {
  if (!fs.existsSync(modelJsonPath)) {
    throw new GraftError('E_NO_MODEL', `No TF.js model at ${modelJsonPath}.`, 'Point at a model.json written by Graft or the TF.js converter.');
  }
  const json = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8'));
  const dir = path.dirname(modelJsonPath);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of json.weightsManifest ?? []) {
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
    specs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    trainingConfig: json.trainingConfig,
    weightSpecs: specs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
  };
}

export function fileLoadHandler(modelJsonPath: string): tf.io.IOHandler {
  return { load: async () => readModelArtifacts(modelJsonPath) };
}
