import fs from 'node:fs';
import sharp from 'sharp';

/** A region of the (EXIF-oriented) source image, in pixels. */
export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** How the image becomes `size`: `crop` (resize the shorter side, centre-crop) or `squash` (stretch). */
export type FitMode = 'crop' | 'squash';

export interface DecodeOptions {
  /** Output [height, width]. */
  size: readonly [number, number];
  /**
   * `crop` (default): resize so the shorter side fits, then centre-crop — torchvision's
   * Resize+CenterCrop and the aspect-preserving choice. `squash`: resize both sides directly,
   * as Keras' `load_img(target_size=…)` does.
   */
  fit?: FitMode;
  /**
   * Take this region of the oriented source, then resize it to `size` directly (`fit` is ignored,
   * as in torchvision's RandomResizedCrop, whose aspect jitter is the point). For training see
   * `randomResizedCrop` in augment.ts. A function receives the oriented source size.
   */
  crop?: CropBox | ((width: number, height: number) => CropBox);
  /**
   * Transparent pixels: `white` (default) composites them on white, so a product shot on a
   * transparent background looks as it does in a browser; `drop` discards alpha like PIL's
   * `convert('RGB')` (whatever colour hides under alpha 0 shows up).
   */
  alpha?: 'white' | 'drop';
  /** Resampling filter (default bilinear, as torchvision and Keras' image_dataset_from_directory). */
  interpolation?: 'bilinear' | 'bicubic' | 'nearest' | 'lanczos3';
}

/** A decoded image: `data` is height*width*3 bytes, RGB, row-major (HWC). */
export interface Decoded {
  ok: true;
  path: string;
  data: Uint8Array;
  height: number;
  width: number;
}

/** A file that could not be decoded, with a reason a person can act on. */
export interface DecodeFailure {
  ok: false;
  path: string;
  reason: string;
}

export type DecodeResult = Decoded | DecodeFailure;

const KERNELS = { bilinear: 'linear', bicubic: 'cubic', nearest: 'nearest', lanczos3: 'lanczos3' } as const;

/** Name the container from its first bytes, for messages about corrupt files. */
export function sniffFormat(b: Uint8Array): string | undefined {
  const s = (i: number, str: string) => [...str].every((c, k) => b[i + k] === c.charCodeAt(0));
  if (b[0] === 0xff && b[1] === 0xd8) return 'JPEG';
  if (b[0] === 0x89 && s(1, 'PNG')) return 'PNG';
  if (s(0, 'RIFF') && s(8, 'WEBP')) return 'WebP';
  if (s(0, 'GIF8')) return 'GIF';
  if (s(0, 'II*\0') || s(0, 'MM\0*')) return 'TIFF';
  if (s(4, 'ftyp')) return 'AVIF/HEIF';
  if (s(0, 'BM')) return 'BMP';
  return undefined;
}

/** Words by which libvips' loaders name their format in error lines. */
const LOADER_TAGS: Record<string, RegExp> = { JPEG: /jpe?g/i, PNG: /png/i, WebP: /webp/i, GIF: /gif/i, TIFF: /tiff/i, 'AVIF/HEIF': /heif|avif/i };

/**
 * The lines of a libvips error that are this file's. libvips keeps one error buffer for the
 * whole process, so when several images decode at once a failure's message can carry lines of
 * other files' failures (a PNG reported with "VipsJpeg: premature end of JPEG image"). Lines that
 * name another format's loader are dropped, repeats are merged, and "Unknown error" says nothing.
 */
export function ownErrorLines(fmt: string | undefined, message: string): string[] {
  const own = fmt ? LOADER_TAGS[fmt] : undefined;
  const foreign = Object.entries(LOADER_TAGS).filter(([f]) => f !== fmt).map(([, re]) => re);
  const lines = message.split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter((l) => l && !/^unknown error$/i.test(l));
  return [...new Set(lines.filter((l) => (own && own.test(l)) || !foreign.some((re) => re.test(l))))];
}

export function failureReason(bytes: Uint8Array, message: string): string {
  const fmt = sniffFormat(bytes);
  const msg = message.replace(/\s+/g, ' ').trim();
  if (fmt === 'BMP') return 'unsupported format: BMP (convert it to PNG)';
  if (/pixel limit/i.test(msg)) return `image too large to decode safely: ${ownErrorLines(fmt, message).find((l) => /pixel limit/i.test(l)) ?? msg}`;
  if (/unsupported image format/i.test(msg) || fmt === undefined) return 'not an image (unsupported format)';
  const lines = ownErrorLines(fmt, message);
  return `truncated or corrupt ${fmt}: ${lines.length ? lines.join('; ') : 'the decoder stopped before the end of the image'}`;
}

/**
 * Decode one image to RGB8 at a fixed size, never throwing for a bad file: any format sharp reads
 * here (JPEG, PNG, WebP, GIF first frame, TIFF, AVIF), EXIF orientation applied, grey/CMYK/16-bit
 * converted to sRGB 8-bit, alpha handled per `alpha`. Truncated files fail (sharp's `failOn:
 * 'error'`) instead of decoding half-grey.
 *
 * @example
 * const r = await decodeImage('cats/1.jpg', { size: [224, 224] });
 * if (r.ok) feed(r.data); else console.warn(`${r.path}: ${r.reason}`);
 */
export async function decodeImage(input: string | Uint8Array, opts: DecodeOptions): Promise<DecodeResult> {
  const path = typeof input === 'string' ? input : '<buffer>';
  let bytes: Uint8Array;
  if (typeof input === 'string') {
    try {
      bytes = await fs.promises.readFile(input);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { ok: false, path, reason: code === 'ENOENT' ? 'file not found' : `cannot read file: ${(e as Error).message}` };
    }
  } else bytes = input;
  return decodeBytes(bytes, path, opts);
}

/** {@link decodeImage} on bytes already in memory; `path` only labels the result. */
export async function decodeBytes(bytes: Uint8Array, path: string, opts: DecodeOptions): Promise<DecodeResult> {
  if (bytes.length === 0) return { ok: false, path, reason: 'zero-byte file' };
  const [h, w] = opts.size;
  const make = () => sharp(bytes, { failOn: 'error', autoOrient: true, pages: 1 });
  try {
    let img = make();
    // Only a crop needs the source size up front (a header read); plain resizes skip it.
    if (opts.crop) {
      const meta = await make().metadata();
      const srcW = meta.autoOrient?.width ?? meta.width;
      const srcH = meta.autoOrient?.height ?? meta.height;
      const box = typeof opts.crop === 'function' ? opts.crop(srcW, srcH) : opts.crop;
      img = img.extract(clampBox(box, srcW, srcH));
    }
    img = img.resize(w, h, {
      fit: !opts.crop && (opts.fit ?? 'crop') === 'crop' ? 'cover' : 'fill',
      position: 'centre',
      kernel: KERNELS[opts.interpolation ?? 'bilinear'],
    });
    if ((opts.alpha ?? 'white') === 'white') img = img.flatten({ background: '#ffffff' });
    const { data, info } = await img.toColourspace('srgb').removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== w || info.height !== h || data.length !== w * h * 3) {
      return { ok: false, path, reason: `decoder produced ${info.width}x${info.height}x${info.channels}, expected ${w}x${h}x3` };
    }
    return { ok: true, path, data: new Uint8Array(data.buffer, data.byteOffset, data.length), height: h, width: w };
  } catch (e) {
    return { ok: false, path, reason: failureReason(bytes, (e as Error).message) };
  }
}

/** Keep a crop inside the image and at least 1×1, whatever rounding produced it. */
function clampBox(b: CropBox, w: number, h: number): CropBox {
  const width = Math.max(1, Math.min(w, Math.round(b.width)));
  const height = Math.max(1, Math.min(h, Math.round(b.height)));
  const left = Math.max(0, Math.min(w - width, Math.round(b.left)));
  const top = Math.max(0, Math.min(h - height, Math.round(b.top)));
  return { left, top, width, height };
}
