import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { GraftError } from '../errors.js';
import { Rng, deriveSeed } from '../data/rng.js';
import { isImagePath } from '../data/dataset.js';

/**
 * Constructed domain shifts, for testing and measuring adaptation on data whose labels are known:
 * - `night`: darkened (×0.3), low contrast (offset +20: black → 20, white → 96), sensor noise
 *   (Gaussian, σ = 12 grey levels), as a cheap camera in the dark;
 * - `dim`: the night shift without noise (×0.3, +20): a pure intensity/contrast change;
 * - `invert-blur`: Gaussian blur (σ = 1) then colour inversion (a negative scan / a
 *   dark-on-light rendering of light-on-dark images).
 */
export const SHIFTS = ['night', 'dim', 'invert-blur'] as const;
export type ShiftKind = (typeof SHIFTS)[number];

async function transform(file: string, kind: ShiftKind, rng: Rng): Promise<Buffer> {
  let img = sharp(file).rotate();
  if (kind === 'invert-blur') img = img.blur(1);
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  const out = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    let y: number;
    if (kind === 'night') {
      // Box–Muller from the seeded stream: noise is reproducible per file.
      const g = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
      y = 20 + 0.3 * x + 12 * g;
    } else if (kind === 'dim') y = 20 + 0.3 * x;
    else y = 255 - x;
    out[i] = Math.max(0, Math.min(255, Math.round(y)));
  }
  return sharp(out, { raw: { width: info.width, height: info.height, channels: info.channels } }).png().toBuffer();
}

/**
 * Copy an image folder (class sub-folders kept) to `dst`, every image shifted by `kind`.
 * Returns the number of images written.
 *
 * @example
 * await makeShiftedFolder('data/test', '/tmp/night', 'night', 42);
 */
export async function makeShiftedFolder(src: string, dst: string, kind: ShiftKind, seed = 42): Promise<number> {
  if (!(SHIFTS as readonly string[]).includes(kind)) throw new GraftError('E_SHIFT_KIND', `Unknown constructed shift. Received: ${kind}.`, `Should be one of: ${SHIFTS.join(', ')}.`);
  let n = 0;
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (fs.statSync(p).isDirectory()) await walk(p, path.join(rel, name));
      else if (isImagePath(p)) {
        const outDir = path.join(dst, rel);
        fs.mkdirSync(outDir, { recursive: true });
        const rng = new Rng(deriveSeed(seed, kind, rel, name));
        fs.writeFileSync(path.join(outDir, name.replace(/\.[^.]+$/, '.png')), await transform(p, kind, rng));
        n++;
      }
    }
  };
  await walk(src, '');
  return n;
}
