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
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Inverse map: where in the source does this output pixel come from.
      const dx = x - cx;
      const dy = y - cy;
      let sx = cos * dx - sin * dy + cx;
      let sy = sin * dx + cos * dy + cy;
      sx = Math.min(w - 1, Math.max(0, sx));
      sy = Math.min(h - 1, Math.max(0, sy));
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(w - 1, x0 + 1);
      const y1 = Math.min(h - 1, y0 + 1);
      const fx = sx - x0;
      const fy = sy - y0;
      const o = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) {
        const a = src[(y0 * w + x0) * 3 + c]! * (1 - fx) + src[(y0 * w + x1) * 3 + c]! * fx;
        const b = src[(y1 * w + x0) * 3 + c]! * (1 - fx) + src[(y1 * w + x1) * 3 + c]! * fx;
        img[o + c] = Math.round(a * (1 - fy) + b * fy);
      }
    }
  }
}

/** Brightness then contrast, as torchvision: clamp(x*b), then clamp(m + c*(x - m)), m = mean grey level. */
export function colourJitter(img: Uint8Array, brightness: number, contrast: number): void {
  if (brightness !== 1) for (let i = 0; i < img.length; i++) img[i] = Math.min(255, Math.round(img[i]! * brightness));
  if (contrast === 1) return;
  let s = 0;
  for (let i = 0; i < img.length; i += 3) s += 0.299 * img[i]! + 0.587 * img[i + 1]! + 0.114 * img[i + 2]!;
  const mean = s / (img.length / 3);
  for (let i = 0; i < img.length; i++) {
    const v = mean + contrast * (img[i]! - mean);
    img[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
}
