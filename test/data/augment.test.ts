import { test } from 'node:test';
import assert from 'node:assert/strict';
import { augmentPixels, colourJitter, DEFAULT_AUGMENT, flipHorizontal, randomResizedCrop, resolveAugment, rotateBilinear } from '../../src/data/augment.js';
import { Rng } from '../../src/data/rng.js';
import { GraftError } from '../../src/errors.js';

const H = 6;
const W = 8;
/** A gradient image: every pixel distinct enough to notice a flip or rotation. */
const gradient = () => Uint8Array.from({ length: H * W * 3 }, (_, i) => (i * 5) % 256);

test('flip mirrors rows; a double flip is the identity', () => {
  const img = gradient();
  flipHorizontal(img, H, W);
  assert.deepEqual([...img.subarray(0, 3)], [...gradient().subarray((W - 1) * 3, W * 3)]);
  flipHorizontal(img, H, W);
  assert.deepEqual(img, gradient());
});

test('rotation by 0 is the identity and by 90° on a square moves corners', () => {
  const img = gradient();
  rotateBilinear(img, H, W, 0);
  assert.deepEqual(img, gradient());
  const sq = new Uint8Array(5 * 5 * 3);
  sq.set([255, 255, 255], 0); // top-left white
  rotateBilinear(sq, 5, 5, 90); // counter-clockwise: top-left goes to bottom-left
  assert.equal(sq[(4 * 5 + 0) * 3], 255);
  assert.equal(sq[0], 0);
});

test('colour jitter follows torchvision: brightness scales, contrast blends around the grey mean', () => {
  const img = Uint8Array.from([100, 100, 100, 200, 200, 200]);
  colourJitter(img, 1.5, 1);
  assert.deepEqual([...img], [150, 150, 150, 255, 255, 255]);
  const c = Uint8Array.from([100, 100, 100, 200, 200, 200]);
  colourJitter(c, 1, 0); // contrast 0: every pixel becomes the mean
  assert.deepEqual([...c], [150, 150, 150, 150, 150, 150]);
});

test('augmentation is deterministic for a seed and varies across seeds', () => {
  const run = (seed: number) => augmentPixels(gradient(), H, W, DEFAULT_AUGMENT, new Rng(seed));
  assert.deepEqual(run(11), run(11));
  const outs = new Set([1, 2, 3, 4, 5].map((s) => Buffer.from(run(s)).toString('hex')));
  assert.ok(outs.size >= 4, `only ${outs.size} distinct outputs`);
  // everything off: pixels untouched (and the loader passes no config at all for eval)
  const off = augmentPixels(gradient(), H, W, { flip: false, crop: false, rotate: 0, brightness: 0, contrast: 0 }, new Rng(1));
  assert.deepEqual(off, gradient());
  assert.equal(resolveAugment(false), undefined);
  assert.equal(resolveAugment(undefined), undefined);
});

test('random resized crop: inside the image, within the scale range, seeded; bad config rejected', () => {
  const rng = new Rng(9);
  for (let i = 0; i < 200; i++) {
    const b = randomResizedCrop(300, 200, [0.6, 1], [3 / 4, 4 / 3], rng);
    assert.ok(b.left >= 0 && b.top >= 0 && b.left + b.width <= 300 && b.top + b.height <= 200, JSON.stringify(b));
    const area = (b.width * b.height) / (300 * 200);
    assert.ok(area > 0.55 && area <= 1.0001, `area ${area}`);
  }
  assert.deepEqual(randomResizedCrop(50, 40, [0.08, 1], [0.75, 1.33], new Rng(4)), randomResizedCrop(50, 40, [0.08, 1], [0.75, 1.33], new Rng(4)));
  // impossible ratio falls back to a centre crop with the ratio clamped
  const fb = randomResizedCrop(100, 10, [0.9, 1], [1, 1], new Rng(1));
  assert.deepEqual(fb, { left: 45, top: 0, width: 10, height: 10 });
  assert.deepEqual(resolveAugment({ crop: { scale: [0.3, 1] } })!.crop, { scale: [0.3, 1], ratio: [3 / 4, 4 / 3] });
  assert.throws(() => resolveAugment({ crop: { scale: [0.8, 0.2] } }), (e) => e instanceof GraftError && e.code === 'E_BAD_AUGMENT' && /Received: \[0.8, 0.2\]/.test(e.message));
});
