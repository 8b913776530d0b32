import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import sharp from 'sharp';

/** Thumbnail edge in pixels (the grid shows them at 96–128 CSS px; 2× for sharp screens would cost 4× the bytes). */
export const THUMB_SIZE = 160;

/**
 * A WebP thumbnail of an image, made once by sharp and cached under `.graft/thumbs/` by the
 * file's identity (inode, size, mtime): moving an image between classes keeps its thumbnail,
 * editing it makes a new one. Concurrent requests for the same image share one resize.
 */
export class Thumbnails {
  private making = new Map<string, Promise<Buffer>>();

  constructor(private dir: string) {}

  get(abs: string): Promise<Buffer> {
    const s = fs.statSync(abs);
    const key = crypto.createHash('sha1').update(`${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${THUMB_SIZE}`).digest('hex');
    const file = path.join(this.dir, `${key}.webp`);
    const pending = this.making.get(key);
    if (pending) return pending;
    const p = (async () => {
      try {
        return await fs.promises.readFile(file);
      } catch {
        const buf = await sharp(abs, { pages: 1, limitInputPixels: 50_000_000 }).rotate().resize(THUMB_SIZE, THUMB_SIZE, { fit: 'cover' }).webp({ quality: 70 }).toBuffer();
        const tmp = `${file}.${process.pid}.tmp`;
        await fs.promises.writeFile(tmp, buf);
        await fs.promises.rename(tmp, file);
        return buf;
      }
    })().finally(() => this.making.delete(key));
    this.making.set(key, p);
    return p;
  }
}
