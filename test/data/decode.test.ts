import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { decodeImage, type DecodeResult } from '../../src/data/decode.js';
import { halves, junk, solid, tmpDir, truncatedJpeg } from './fixtures.js';

const dir = tmpDir();
const px = (r: DecodeResult, i = 0) => {
  assert.ok(r.ok, `expected a decode, got ${!r.ok && r.reason}`);
  return [r.data[i * 3], r.data[i * 3 + 1], r.data[i * 3 + 2]] as number[];
};
const near = (a: number[], b: number[], tol = 12) => assert.ok(a.every((v, i) => Math.abs(v - b[i]!) <= tol), `${a} not within ${tol} of ${b}`);

test('every supported format decodes to h*w*3 RGB8 with the right colour', async () => {
  const formats = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const;
  for (const f of formats) {
    if (!sharp.format[f === 'avif' ? 'heif' : f].output.file) continue;
    const file = await solid(path.join(dir, `c.${f}`), f, [200, 40, 40]);
    const r = await decodeImage(file, { size: [5, 7] });
    assert.ok(r.ok, `${f}: ${!r.ok && r.reason}`);
    assert.equal(r.data.length, 5 * 7 * 3, f);
    near(px(r, 17), [200, 40, 40], f === 'gif' ? 20 : 12);
  }
});

test('EXIF orientation 6 is applied: a 40x20 image becomes 20 wide, 40 high, red on top', async () => {
  const file = path.join(dir, 'o6.jpg');
  await sharp(halves(40, 20), { raw: { width: 40, height: 20, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toFile(file);
  const r = await decodeImage(file, { size: [40, 20], fit: 'squash' });
  near(px(r, 0), [255, 0, 0], 30);
  near(px(r, 39 * 20 + 5), [0, 0, 255], 30);
  // crop boxes are in oriented coordinates: the top 20x20 of the 20x40 result is all red
  const c = await decodeImage(file, { size: [20, 20], crop: { left: 0, top: 0, width: 20, height: 20 } });
  near(px(c, 10 * 20 + 10), [255, 0, 0], 30);
});

test('grey, RGBA (white or dropped), 16-bit and CMYK inputs become sRGB 8-bit', async () => {
  const grey = path.join(dir, 'g.png');
  await sharp(Buffer.alloc(16, 77), { raw: { width: 4, height: 4, channels: 1 } }).png().toFile(grey);
  near(px(await decodeImage(grey, { size: [4, 4] })), [77, 77, 77], 0);

  const rgba = path.join(dir, 'a.png');
  await sharp({ create: { width: 6, height: 6, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toFile(rgba);
  near(px(await decodeImage(rgba, { size: [3, 3] })), [255, 255, 255], 0);
  near(px(await decodeImage(rgba, { size: [3, 3], alpha: 'drop' })), [0, 0, 0], 0);

  const b16 = path.join(dir, 'b16.png');
  const v = new Uint16Array(4 * 4 * 3).fill(32896); // 0x8080 → 128 in 8 bits
  await sharp(Buffer.from(v.buffer), { raw: { width: 4, height: 4, channels: 3 } }).toColourspace('rgb16').png().toFile(b16);
  assert.equal((await sharp(b16).metadata()).depth, 'ushort');
  near(px(await decodeImage(b16, { size: [4, 4] })), [128, 128, 128], 1);

  const cmyk = path.join(dir, 'cmyk.jpg');
  await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 30, g: 160, b: 60 } } }).toColourspace('cmyk').jpeg().toFile(cmyk);
  assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
  const r = await decodeImage(cmyk, { size: [4, 4] });
  near(px(r), [30, 160, 60], 40);
});

test('crop fit keeps the aspect (centre crop), squash stretches', async () => {
  // 30x10: left third red, middle green, right third blue
  const raw = Buffer.alloc(30 * 10 * 3);
  for (let y = 0; y < 10; y++) for (let x = 0; x < 30; x++) raw[(y * 30 + x) * 3 + Math.floor(x / 10)] = 255;
  const file = path.join(dir, 'thirds.png');
  await sharp(raw, { raw: { width: 30, height: 10, channels: 3 } }).png().toFile(file);
  const crop = await decodeImage(file, { size: [6, 6], fit: 'crop', interpolation: 'nearest' });
  near(px(crop, 0), [0, 255, 0], 0); // only the green middle survives
  const squash = await decodeImage(file, { size: [6, 6], fit: 'squash', interpolation: 'nearest' });
  near(px(squash, 0), [255, 0, 0], 0);
  near(px(squash, 5), [0, 0, 255], 0);
});

test('bad files are results with a reason, never exceptions', async () => {
  const zero = path.join(dir, 'zero.jpg');
  fs.writeFileSync(zero, '');
  const cases: Array<[string, RegExp]> = [
    [zero, /^zero-byte file$/],
    [await truncatedJpeg(path.join(dir, 'trunc.jpg')), /^truncated or corrupt JPEG: /],
    [junk(path.join(dir, 'random.jpg')), /^not an image \(unsupported format\)$/],
    [path.join(dir, 'missing.png'), /^file not found$/],
  ];
  for (const [file, reason] of cases) {
    const r = await decodeImage(file, { size: [8, 8] });
    assert.equal(r.ok, false, file);
    assert.ok(!r.ok && reason.test(r.reason), `${file}: ${!r.ok && r.reason}`);
    assert.equal(r.path, file);
  }
  const fromBuffer = await decodeImage(new Uint8Array(0), { size: [8, 8] });
  assert.deepEqual(fromBuffer, { ok: false, path: '<buffer>', reason: 'zero-byte file' });
});

test('GIF: only the first frame is used', async () => {
  const file = path.join(dir, 'anim.gif');
  const frames = Buffer.concat([Buffer.alloc(4 * 4 * 4, 0), Buffer.alloc(4 * 4 * 4, 255)]);
  for (let i = 3; i < 64; i += 4) frames[i] = 255; // frame 0: opaque black
  await sharp(frames, { raw: { width: 4, height: 8, channels: 4, pageHeight: 4 } } as never).gif().toFile(file);
  assert.equal((await sharp(file).metadata()).pages, 2);
  near(px(await decodeImage(file, { size: [4, 4] })), [0, 0, 0], 0);
});
