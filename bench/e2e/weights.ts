import fs from 'node:fs';
import path from 'node:path';
import { createModel } from '../../src/zoo/registry.js';
import { fileSaveHandler } from '../../src/io/tfjs-files.js';
import { DATA_ROOT } from './images.js';

/**
 * The weights each backbone is benchmarked with. MobileNetV2 uses Graft's embedded default
 * ('nsfwjs'); ResNet50's only source ('imagenet') needs a download, so it gets Keras-initialised
 * random weights saved once as a TF.js model.json (speed does not depend on weight values, and a
 * file keeps the ONNX graph hash stable across runs, as real weights would).
 *
 * @example
 * await benchWeights('resnet50'); // '<tmp>/graft-bench-data/resnet50-random/model.json'
 */
export async function benchWeights(backbone: string): Promise<string> {
  if (backbone === 'mobilenet_v2') return 'nsfwjs';
  const file = path.join(DATA_ROOT, `${backbone}-random`, 'model.json');
  if (fs.existsSync(file)) return file;
  const { model } = await createModel(backbone, { includeTop: false, weights: 'none', inputShape: [224, 224, 3], pooling: null });
  await model.save(fileSaveHandler(file));
  model.dispose();
  return file;
}
