// Readers for the real image sets of `npm run bench:accuracy`, each from a Debian package. Every
// reader returns { classes, items } where an item is { label, source, image } and `image()` resolves
// to a sharp instance ready to encode (so only the images picked for the split are decoded).
// Shared by scripts/build-accuracy-data.mjs; the IDX parser is the one scripts/build-demo-data.mjs
// uses for the shipped demo data.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { execFileSync } from 'node:child_process';
import sharp from 'sharp';
import { readIdx, CLASSES as FASHION_CLASSES } from './build-demo-data.mjs';

export { readIdx };

/** A source that is not installed: the message names the apt package. */
export class MissingSource extends Error {
  constructor(set, pkg, file) {
    super(`${set}: ${file} not found. Install it with: apt-get install -y --no-install-recommends ${pkg}`);
    this.pkg = pkg;
  }
}

function need(set, pkg, file) {
  if (!fs.existsSync(file)) throw new MissingSource(set, pkg, file);
  return file;
}

/** Installed version of a Debian package, or undefined. */
export function debVersion(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const grey = (px, w, h) => sharp(Buffer.from(px), { raw: { width: w, height: h, channels: 1 } });

/**
 * Fashion-MNIST (dataset-fashion-mnist): 28×28 greyscale product photos, 10 classes. The pool is
 * drawn from the official training split, the test set from the official test split.
 */
export function fashionMnist(src = '/usr/share/datasets/fashion-mnist') {
  const pkg = 'dataset-fashion-mnist';
  const split = (prefix) => {
    const images = readIdx(need('fashion-mnist', pkg, path.join(src, `${prefix}-images-idx3-ubyte.gz`)));
    const labels = readIdx(need('fashion-mnist', pkg, path.join(src, `${prefix}-labels-idx1-ubyte.gz`)));
    const [n, h, w] = images.dims;
    return Array.from({ length: n }, (_, i) => ({
      label: labels.data[i],
      source: `${prefix}[${i}]`,
      image: () => grey(images.data.subarray(i * h * w, (i + 1) * h * w), w, h),
    }));
  };
  return { classes: FASHION_CLASSES, pool: split('train'), test: split('t10k') };
}

/**
 * UCI optical handwritten digits as shipped in scikit-learn (python3-sklearn): 1,797 scans of
 * digits written by 43 people, each reduced by NIST's preprocessing to 8×8 cells of ink counts
 * 0..16. Rows of digits.csv.gz: 64 pixel values then the label.
 */
export function uciDigits(file = '/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz') {
  const text = zlib.gunzipSync(fs.readFileSync(need('uci-digits', 'python3-sklearn', file))).toString('utf8');
  const items = text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line, i) => {
      const v = line.split(',').map(Number);
      if (v.length !== 65) throw new Error(`${file}: line ${i + 1} has ${v.length} values, expected 65`);
      const px = Uint8Array.from(v.slice(0, 64), (x) => Math.round((x * 255) / 16));
      return { label: v[64], source: `row ${i}`, image: () => grey(px, 8, 8) };
    });
  return { classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], pool: items };
}

/**
 * OpenCV's samples/data/digits.png (opencv-doc): 5,000 handwritten digits from MNIST, 20×20
 * greyscale, tiled 100 across and 50 down; each run of 5 tile rows is one digit (0 first), as
 * OpenCV's own samples/python/digits.py reads it.
 */
export async function opencvMnist(file = '/usr/share/doc/opencv-doc/examples/data/digits.png') {
  const { data, info } = await sharp(need('mnist-opencv', 'opencv-doc', file)).greyscale().raw().toBuffer({ resolveWithObject: true });
  const S = 20;
  if (info.width !== 2000 || info.height !== 1000) throw new Error(`${file}: expected 2000×1000, found ${info.width}×${info.height}`);
  const items = [];
  for (let r = 0; r < 50; r++) {
    for (let c = 0; c < 100; c++) {
      const px = new Uint8Array(S * S);
      for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) px[y * S + x] = data[(r * S + y) * info.width + c * S + x];
      items.push({ label: Math.floor(r / 5), source: `tile row ${r} col ${c}`, image: () => grey(px, S, S) });
    }
  }
  return { classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], pool: items };
}

export const TUXPAINT_CLASSES = ['animals', 'clothes', 'food', 'household', 'town', 'vehicles'];
export const TUXPAINT_SIZE = 224;

/**
 * Tux Paint's stamps (tuxpaint-stamps-default), by top-level category: photo cut-outs (most
 * animals and food) and clip art. Every .png, and every .svg without a .png of the same name,
 * under each category folder. Images are flattened on white and fitted (aspect kept) into a
 * white 224×224 square, since Graft centre-crops to a square when it decodes.
 */
export function tuxpaintStamps(root = '/usr/share/tuxpaint/stamps', classes = TUXPAINT_CLASSES) {
  need('tuxpaint-stamps', 'tuxpaint-stamps-default', root);
  const items = [];
  classes.forEach((cls, label) => {
    const files = [];
    const walk = (dir) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.png')) files.push(p);
        else if (e.name.endsWith('.svg') && !fs.existsSync(p.slice(0, -4) + '.png')) files.push(p);
      }
    };
    walk(need('tuxpaint-stamps', 'tuxpaint-stamps-default', path.join(root, cls)));
    for (const f of files) {
      items.push({
        label,
        source: path.relative(root, f),
        image: async () => {
          const S = TUXPAINT_SIZE;
          // SVGs are rasterised large enough for the fit below; PNGs are used at their own size.
          const input = f.endsWith('.svg') ? sharp(f, { density: 150 }) : sharp(f);
          const flat = await input.flatten({ background: '#ffffff' }).resize(S, S, { fit: 'contain', background: '#ffffff' }).removeAlpha().png().toBuffer();
          return sharp(flat);
        },
      });
    }
  });
  return { classes, pool: items };
}
