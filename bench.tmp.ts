import * as tf from '@tensorflow/tfjs';
import { initTf } from './src/engine/backend.js';
await initTf('wasm');
const N=8,H=14,Ci=96,Co=576;
const x = tf.randomNormal([N,H,H,Ci]) as tf.Tensor4D, dy = tf.randomNormal([N,H,H,Co]) as tf.Tensor4D;
const xd = tf.randomNormal([N,H,H,Co]) as tf.Tensor4D;
const M=N*H*H;
const cases: Record<string, () => tf.Tensor> = {
  mmTransA: () => tf.matMul(x.reshape([M,Ci]), dy.reshape([M,Co]), true, false),
  mmExplicitT: () => tf.matMul(tf.transpose(x.reshape([M,Ci])), dy.reshape([M,Co])),
  convTrick: () => tf.conv2d(tf.transpose(x,[3,1,2,0]) as tf.Tensor4D, tf.transpose(dy,[1,2,0,3]) as tf.Tensor4D, 1, 'valid'),
  dwMulSum: () => tf.sum(tf.mul(xd, xd), [0,1,2]),
  dwMulMatmulOnes: () => tf.matMul(tf.ones([1,M]), tf.mul(xd,xd).reshape([M,Co])),
  dwConvTrick: () => { const xp = tf.pad(xd, [[0,0],[1,1],[1,1],[0,0]]); const a = tf.reshape(tf.transpose(xp,[1,2,0,3]),[1,H+2,H+2,N*Co]) as tf.Tensor4D; const f = tf.reshape(tf.transpose(xd,[1,2,0,3]),[H,H,N*Co,1]) as tf.Tensor4D; return tf.sum(tf.reshape(tf.depthwiseConv2d(a,f,1,'valid'),[3,3,N,Co]),2); },
  dwConv3x3: () => tf.depthwiseConv2d(xd, tf.ones([3,3,Co,1]) as tf.Tensor4D, 1, 'same'),
  transposeOnly: () => tf.transpose(xd,[1,2,0,3]),
};
for (const [k,f] of Object.entries(cases)) {
  tf.tidy(() => { f().dataSync(); });
  const t0 = performance.now();
  for (let i=0;i<3;i++) tf.tidy(() => { f().dataSync(); });
  console.log(k, ((performance.now()-t0)/3).toFixed(1), 'ms');
}
