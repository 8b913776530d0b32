import * as tf from '@tensorflow/tfjs';
import { initTf } from './src/engine/backend.js';
await initTf('wasm');
const N=8,H=14,C=576;
const xp = tf.randomNormal([N,H+2,H+2,C]) as tf.Tensor4D;
const cases: Record<string, () => tf.Tensor> = {
  stridedSlice1: () => tf.stridedSlice(xp,[0,1,1,0],[N,1+H,1+H,C],[1,1,1,1]),
  slice1: () => tf.slice(xp,[0,1,1,0],[N,H,H,C]),
  stridedSlice2: () => tf.stridedSlice(xp,[0,1,1,0],[N,1+H,1+H,C],[1,2,2,1]),
  pad: () => tf.pad(tf.slice(xp,[0,1,1,0],[N,H,H,C]), [[0,0],[1,1],[1,1],[0,0]]),
  reverse: () => tf.reverse(xp, [1,2]),
};
for (const [k,f] of Object.entries(cases)) {
  tf.tidy(() => { f().dataSync(); });
  const t0 = performance.now();
  for (let i=0;i<3;i++) tf.tidy(() => { f().dataSync(); });
  console.log(k, ((performance.now()-t0)/3).toFixed(1), 'ms');
}
