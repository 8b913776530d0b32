import * as tf from '@tensorflow/tfjs';
import { initTf } from './src/engine/backend.js';
await initTf('wasm');
const t = tf.randomNormal([1,1,1,960]);
const dy = tf.randomNormal([16,7,7,160]); const W = tf.randomNormal([1,1,960,160]);
const dy3 = tf.randomNormal([16,7,7,160]); const W3 = tf.randomNormal([3,3,96,160]);
const cases: Record<string, () => tf.Tensor> = {
  tile: () => tf.tile(t, [16,7,7,1]),
  addZeros: () => tf.add(t, tf.zeros([16,7,7,960])),
  bwdInputNative: () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: W }, { strides: [1,1], pad: 'same', dataFormat: 'NHWC', inputShape: [16,7,7,960] }) as tf.Tensor,
  bwdInputMatmul: () => tf.reshape(tf.matMul(tf.reshape(dy,[16*49,160]) as tf.Tensor2D, tf.reshape(W,[960,160]) as tf.Tensor2D, false, true), [16,7,7,960]),
  bwdInputMatmulT: () => tf.reshape(tf.matMul(tf.reshape(dy,[16*49,160]) as tf.Tensor2D, tf.transpose(tf.reshape(W,[960,160])) as tf.Tensor2D), [16,7,7,960]),
  bwdInput3Native: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: dy3, filter: W3 }, { strides: [1,1], pad: 'same', dataFormat: 'NHWC', inputShape: [16,7,7,96] }) as tf.Tensor,
  bwdInput3Conv: () => tf.conv2d(dy3 as tf.Tensor4D, tf.transpose(tf.reverse(W3,[0,1]),[0,1,3,2]) as tf.Tensor4D, 1, 'same'),
};
for (const [k,f] of Object.entries(cases)) {
  tf.tidy(() => { f().dataSync(); });
  const t0 = performance.now();
  for (let i=0;i<3;i++) tf.tidy(() => { f().dataSync(); });
  console.log(k, ((performance.now()-t0)/3).toFixed(1), 'ms');
}
