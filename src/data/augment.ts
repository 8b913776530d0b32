import { GraftError } from '../errors.js';
import type { CropBox } from './decode.js';
import type { Rng } from './rng.js';

/**
 * Training augmentation. The crop happens in the decoder, on the full-resolution source (as
 * torchvision's RandomResizedCrop); flip, rotation and colour jitter act on the decoded RGB8 HWC
 * buffer. Evaluation never augments: pass `false`/nothing to the loader for val/test.
 */
export interface AugmentConfig {
  /** Horizontal flip with probability 0.5. */
  flip?: boolean;
  /** Random resized crop (area fraction and aspect-ratio range), or false for the plain resize. */
  crop?: { scale?: [number, number]; ratio?: [number, number] } | false;
  /** Maximum rotation in degrees (uniform in ±rotate); 0 disables. */
  rotate?: number;
  /** Brightness factor drawn from [1-b, 1+b] (torchvision ColorJitter); 0 disables. */
  brightness?: number;
  /** Contrast factor drawn from [1-c, 1+c], blended around the mean grey level; 0 disables. */
  contrast?: number;
}

/** An {@link AugmentConfig} with every field filled in and checked. */
export interface ResolvedAugment {
  flip: boolean;
  crop: { scale: [number, number]; ratio: [number, number] } | false;
  rotate: number;
  brightness: number;
  contrast: number;
}

/**
 * Defaults for transfer learning: milder than ImageNet training (crop scale [0.6, 1] rather than
 * [0.08, 1]) because a small dataset and a pretrained backbone need the object kept in view.
 */
export const DEFAULT_AUGMENT: ResolvedAugment = {
  flip: true,
  crop: { scale: [0.6, 1], ratio: [3 / 4, 4 / 3] },
  rotate: 10,
  brightness: 0.2,
  contrast: 0.2,
};

/** Fill unspecified fields from {@link DEFAULT_AUGMENT}; `true` means all defaults. */
export function resolveAugment(cfg: AugmentConfig | boolean | undefined): ResolvedAugment | undefined {
  if (!cfg) return undefined;
  if (cfg === true) return DEFAULT_AUGMENT;
  const r: ResolvedAugment = { ...DEFAULT_AUGMENT, ...cfg, crop: false };
  const crop = cfg.crop === undefined ? DEFAULT_AUGMENT.crop : cfg.crop;
  if (crop) {
    const scale = crop.scale ?? [0.6, 1];
    const ratio = crop.ratio ?? [3 / 4, 4 / 3];
    if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) {
      throw new GraftError('E_BAD_AUGMENT', `augment.crop.scale must satisfy 0 < min <= max <= 1. Received: [${scale.join(', ')}]`, 'Example: { crop: { scale: [0.6, 1] } }');
    }
    if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) {
      throw new GraftError('E_BAD_AUGMENT', `augment.crop.ratio must satisfy 0 < min <= max. Received: [${ratio.join(', ')}]`, 'Example: { crop: { ratio: [0.75, 1.333] } }');
    }
    r.crop = { scale, ratio };
  }
  for (const k of ['rotate', 'brightness', 'contrast'] as const) {
    if (!(r[k] >= 0)) throw new GraftError('E_BAD_AUGMENT', `augment.${k} must be >= 0. Received: ${r[k]}`);
  }
  return r;
}

/**
 * torchvision's `RandomResizedCrop.get_params`: up to 10 tries at a box of random area fraction
 * and log-uniform aspect ratio, falling back to a centre crop with the ratio clamped.
 *
 * @example
 * const box = randomResizedCrop(640, 480, [0.6, 1], [3/4, 4/3], new Rng(1));
 */
export function randomResizedCrop(width: number, height: number, scale: [number, number], ratio: [number, number], rng: Rng): CropBox {
  const area = width * height;
  const logR = [Math.log(ratio[0]), Math.log(ratio[1])] as const;
  for (let i = 0; i < 10; i++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logR[0], logR[1]));
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { left: rng.int(width - w + 1), top: rng.int(height - h + 1), width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = Math.round(w / ratio[0]);
  else if (inRatio > ratio[1]) w = Math.round(h * ratio[1]);
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

/**
 * Apply flip, rotation and brightness/contrast jitter to an RGB8 HWC image, in place when it can
 * (rotation needs one scratch copy). Draws from `rng` in a fixed order so a seed fixes the result.
 *
 * @example
 * augmentPixels(img, 224, 224, DEFAULT_AUGMENT, new Rng(deriveSeed(seed, epoch, i)));
 */
export function augmentPixels(img: Uint8Array, h: number, w: number, cfg: ResolvedAugment, rng: Rng): Uint8Array {
  // Draw every random number first, whatever is enabled, so toggling one op leaves the others' draws unchanged.
  const doFlip = rng.next() < 0.5;
  const angle = rng.uniform(-1, 1) * cfg.rotate;
  const bright = 1 + rng.uniform(-1, 1) * cfg.brightness;
  const contr = 1 + rng.uniform(-1, 1) * cfg.contrast;
  if (cfg.flip && doFlip) flipHorizontal(img, h, w);
  if (cfg.rotate > 0 && angle !== 0) rotateBilinear(img, h, w, angle);
  if (cfg.brightness > 0 || cfg.contrast > 0) colourJitter(img, cfg.brightness > 0 ? bright : 1, cfg.contrast > 0 ? contr : 1);
  return img;
}

/** Mirror each row in place. */
export function flipHorizontal(img: Uint8Array, h: number, w: number): void {
  for (let y = 0; y < h; y++) {
    const row = y * w * 3;
    for (let a = 0, b = w - 1; a < b; a++, b--) {
      for (let c = 0; c < 3; c++) {
        const i = row + a * 3 + c;
        const j = row + b * 3 + c;
        const t = img[i]!;
        img[i] = img[j]!;
        img[j] = t;
      }
    }
  }
}

/**
 * Rotate about the centre by `deg` (positive: counter-clockwise), bilinear; samples that fall
 * outside are clamped to the nearest edge pixel, which avoids black corners a model could learn.
 */
export function rotateBilinear(img: Uint8Array, h: number, w: number, deg: number): void {
  const src = img.slice();
  const t = (deg * Math.PI) / 180;
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const row = w * 3;
  let o = 0;
  for (let y = 0; y < h; y++) {
    // Inverse map, stepped along the row: output (x, y) samples source (sx, sy).
    const dy = y - cy;
    let sx = -cos * cx - sin * dy + cx;
    let sy = -sin * cx + cos * dy + cy;
    for (let x = 0; x < w; x++, sx += cos, sy += sin, o += 3) {
      const px = sx < 0 ? 0 : sx > w - 1 ? w - 1 : sx;
      const py = sy < 0 ? 0 : sy > h - 1 ? h - 1 : sy;
      const x0 = px | 0;
      const y0 = py | 0;
      const fx = px - x0;
      const fy = py - y0;
      const i00 = y0 * row + x0 * 3;
      const i01 = x0 < w - 1 ? i00 + 3 : i00;
      const i10 = y0 < h - 1 ? i00 + row : i00;
      const i11 = x0 < w - 1 ? i10 + 3 : i10;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      for (let c = 0; c < 3; c++) {
        img[o + c] = src[i00 + c]! * w00 + src[i01 + c]! * w01 + src[i10 + c]! * w10 + src[i11 + c]! * w11 + 0.5;
      }
    }
  }
}

/** Brightness then contrast, as torchvision: clamp(x*b), then clamp(m + c*(x - m)), m = mean grey level. */
export function colourJitter(img: Uint8Array, brightness: number, contrast: number): void {
  // Both steps are per-value maps, so each is one 256-entry lookup table.
  const lut = new Uint8Array(256);
  if (brightness !== 1) {
    for (let v = 0; v < 256; v++) lut[v] = Math.min(255, Math.round(v * brightness));
    for (let i = 0; i < img.length; i++) img[i] = lut[img[i]!]!;
  }
  if (contrast === 1) return;
  let s = 0;
  for (let i = 0; i < img.length; i += 3) s += 0.299 * img[i]! + 0.587 * img[i + 1]! + 0.114 * img[i + 2]!;
  const mean = s / (img.length / 3);
  for (let v = 0; v < 256; v++) {
    const x = mean + contrast * (v - mean);
    lut[v] = x < 0 ? 0 : x > 255 ? 255 : Math.round(x);
  }
  for (let i = 0; i < img.length; i++) img[i] = lut[img[i]!]!;
}
