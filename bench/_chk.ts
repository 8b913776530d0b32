import { initTf, tf } from '../src/engine/backend.js';
import { buildModel } from '../src/zoo/registry.js';
await initTf('wasm');
for (const [n, s] of [['resnet50', 64], ['inception_v3', 75]] as const) {
  const m = buildModel(n, { includeTop: false, pooling: 'avg', inputShape: [s, s, 3] });
  const x = tf.randomUniform([2, s, s, 3], -1, 1);
  const y = m.predict(x) as any;
  const d = await y.data();
  let mx = 0, mn = Infinity, sub = 0; for (const v of d) { const a = Math.abs(v); mx = Math.max(mx, a); if (a > 0) mn = Math.min(mn, a); if (a > 0 && a < 1.18e-38) sub++; }
  console.log(n, y.shape, 'max', mx, 'min nonzero', mn, 'subnormal', sub);
}
