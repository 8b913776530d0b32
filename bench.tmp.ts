import * as tf from '@tensorflow/tfjs';
import { initTf } from './src/engine/backend.js';
import { createTfjsEngine } from './src/train/tfjs-engine.js';
console.log(await initTf('wasm'));
const inp = tf.input({ shape: [7, 7, 160] });
const bn = (t: tf.SymbolicTensor) => tf.layers.batchNormalization({ epsilon: 1e-3, momentum: 0.999 }).apply(t) as tf.SymbolicTensor;
const relu6 = (t: tf.SymbolicTensor) => tf.layers.reLU({ maxValue: 6 }).apply(t) as tf.SymbolicTensor;
const conv = (t: tf.SymbolicTensor, f: number) => tf.layers.conv2d({ filters: f, kernelSize: 1, useBias: false }).apply(t) as tf.SymbolicTensor;
function block(t: tf.SymbolicTensor, out: number, add: boolean) {
  let h = relu6(bn(conv(t, 960)));
  h = relu6(bn(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false }).apply(h) as tf.SymbolicTensor));
  h = bn(conv(h, out));
  return add ? (tf.layers.add().apply([t, h]) as tf.SymbolicTensor) : h;
}
let h = block(inp, 160, true); h = block(h, 160, true); h = block(h, 320, false);
h = relu6(bn(conv(h, 1280)));
h = tf.layers.globalAveragePooling2d({}).apply(h) as tf.SymbolicTensor;
const out = tf.layers.dense({ units: 5, activation: 'softmax' }).apply(h) as tf.SymbolicTensor;
const model = tf.model({ inputs: inp, outputs: out });
const n = 16;
const batch = { x: new Float32Array(n * 7 * 7 * 160).map(() => Math.random()), xShape: [n, 7, 7, 160], y: new Int32Array(n).map((_, i) => i % 5) };
const engine = await createTfjsEngine(model, { optimizer: { type: 'adam', lr: 1e-3 } });
await engine.trainStep(batch, 1e-3);
const prof = await tf.profile(async () => { await engine.trainStep(batch, 1e-3); });
const agg = new Map<string, [number, number]>();
for (const k of prof.kernels) { const a = agg.get(k.name) ?? [0, 0]; a[0] += k.kernelTimeMs as number; a[1]++; agg.set(k.name, a); }
console.log([...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 25).map(([k, [t, c]]) => `${k} ${t.toFixed(0)}ms x${c}`).join('\n'));
