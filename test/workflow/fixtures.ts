import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

export const DEMO = fileURLToPath(new URL('../../data/demo/fashion-mnist', import.meta.url));

/**
 * A small real dataset for workflow tests: `perClass` images of `classes` Fashion-MNIST classes
 * copied from the bundled demo set, plus the bad files a user's folder really holds (a zero-byte
 * JPEG, a truncated PNG, random bytes named .jpg, a text file) when `bad` is set.
 */
export function makeDataset(opts: { classes?: string[]; perClass?: number; test?: number; bad?: boolean } = {}): { root: string; train: string; test: string; bad: string[] } {
  const classes = opts.classes ?? ['Trouser', 'Bag', 'Sneaker'];
  const per = opts.perClass ?? 12;
  const nTest = opts.test ?? 4;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-ds-'));
  const bad: string[] = [];
  for (const split of ['train', 'test'] as const) {
    for (const c of classes) {
      const src = path.join(DEMO, split, c);
      const dst = path.join(root, split, c);
      fs.mkdirSync(dst, { recursive: true });
      const files = fs.readdirSync(src).sort().slice(0, split === 'train' ? per : nTest);
      for (const f of files) fs.copyFileSync(path.join(src, f), path.join(dst, f));
    }
  }
  if (opts.bad) {
    const d = path.join(root, 'train', classes[0]!);
    const zero = path.join(d, 'zero.jpg');
    fs.writeFileSync(zero, Buffer.alloc(0));
    const good = fs.readFileSync(path.join(d, fs.readdirSync(d).find((f) => f.endsWith('.png'))!));
    const trunc = path.join(d, 'truncated.png');
    fs.writeFileSync(trunc, good.subarray(0, Math.floor(good.length / 2)));
    const noise = path.join(d, 'noise.jpg');
    fs.writeFileSync(noise, Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) % 256)));
    const txt = path.join(d, 'notes.txt');
    fs.writeFileSync(txt, 'not an image');
    bad.push(zero, trunc, noise, txt);
  }
  return { root, train: path.join(root, 'train'), test: path.join(root, 'test'), bad };
}

export function tmpDir(prefix = 'graft-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Load a model directory in a child process that imports no Graft code — stock @tensorflow/tfjs
 * for model.json, stock onnxruntime-node for model.onnx — and return both outputs on the same
 * synthetic image (TF.js gets it divided by 255: the raw01 preprocessing of nsfwjs weights).
 */
export function plainRuntimes(dir: string): { tfjs: number[]; onnx: number[] } {
  const script = `
    import * as tf from '@tensorflow/tfjs';
    import * as ort from 'onnxruntime-node';
    import fs from 'node:fs';
    const dir = process.argv[1];
    const json = JSON.parse(fs.readFileSync(dir + '/model.json', 'utf8'));
    const bin = fs.readFileSync(dir + '/' + json.weightsManifest[0].paths[0]);
    const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength) }));
    const [h, w] = model.inputs[0].shape.slice(1, 3);
    const raw = new Float32Array(h * w * 3).map((_, i) => (i * 37) % 256);
    const y1 = model.predict(tf.tensor(raw, [1, h, w, 3]).div(255)).dataSync();
    const s = await ort.InferenceSession.create(dir + '/model.onnx');
    const o = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', raw, [1, h, w, 3]) });
    console.log(JSON.stringify({ tfjs: Array.from(y1), onnx: Array.from(o[s.outputNames[0]].data) }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, dir], { encoding: 'utf8', cwd: process.cwd() });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}
