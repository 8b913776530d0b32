// Tiny image fixtures written with sharp into a fresh temp folder (tests never ship binaries).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

export function tmpDir(prefix = 'graft-data-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A w×h RGB image whose left half is red and right half blue (orientation is visible). */
export function halves(w: number, h: number): Buffer {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[(y * w + x) * 3 + (x < w / 2 ? 0 : 2)] = 255;
  return raw;
}

/** A solid-colour image encoded by sharp in `format`, written to `file`. */
export async function solid(file: string, format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif', rgb: [number, number, number] = [200, 40, 40], size = 12): Promise<string> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp({ create: { width: size, height: size, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .toFormat(format)
    .toFile(file);
  return file;
}

/** A noisy JPEG (so it has real entropy-coded data), cut in half. */
export async function truncatedJpeg(file: string): Promise<string> {
  const full = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
  fs.writeFileSync(file, full.subarray(0, full.length >> 1));
  return file;
}

/** Deterministic pseudo-random bytes (not an image). */
export function junk(file: string, n = 400): string {
  fs.writeFileSync(file, Buffer.from(Array.from({ length: n }, (_, i) => (i * 7919 + 13) % 251)));
  return file;
}

// Counts images made by classFolder in this process, so every one has distinct bytes.
let made = 0;

/** A class folder: root/<class>/<i>.png with `n` small images per class, all distinct. */
export async function classFolder(root: string, classes: Record<string, number>, size = 8): Promise<string> {
  for (const [cls, n] of Object.entries(classes)) {
    for (let i = 0; i < n; i++) {
      const k = ++made;
      await solid(path.join(root, cls, `${i}.png`), 'png', [(k * 37) % 256, Math.floor(k / 256) % 256, (k * 13) % 256], size);
    }
  }
  return root;
}
