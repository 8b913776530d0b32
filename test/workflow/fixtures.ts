import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEMO = fileURLToPath(new URL('../../data/demo/fashion-mnist', import.meta.url));

/**
 * A small real dataset for workflow tests: `perClass` images of `classes` Fashion-MNIST classes
 * copied from the bundled demo set, plus the bad files a user's folder really holds (a zero-byte
 * JPEG, a truncated PNG, random bytes named .jpg, a text file) when `bad` is set.
 */
export function makeDataset(opts: { classes?: string[]; perClass?: number; test?: number; bad?: boolean } = {}): { root: string; train: string; test: string; bad: string[] } {
  const classes = opts.classes ?? ['Trouser', 'Bag', 'Sneaker'];
  const per = opts.perClass ?? 12;
  const nTest = opts.test ?? 4;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-ds-'));
  const bad: string[] = [];
  for (const split of ['train', 'test'] as const) {
    for (const c of classes) {
      const src = path.join(DEMO, split, c);
      const dst = path.join(root, split, c);
      fs.mkdirSync(dst, { recursive: true });
      const files = fs.readdirSync(src).sort().slice(0, split === 'train' ? per : nTest);
      for (const f of files) fs.copyFileSync(path.join(src, f), path.join(dst, f));
    }
  }
  if (opts.bad) {
    const d = path.join(root, 'train', classes[0]!);
    const zero = path.join(d, 'zero.jpg');
    fs.writeFileSync(zero, Buffer.alloc(0));
    const good = fs.readFileSync(path.join(d, fs.readdirSync(d).find((f) => f.endsWith('.png'))!));
    const trunc = path.join(d, 'truncated.png');
    fs.writeFileSync(trunc, good.subarray(0, Math.floor(good.length / 2)));
    const noise = path.join(d, 'noise.jpg');
    fs.writeFileSync(noise, Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) % 256)));
    const txt = path.join(d, 'notes.txt');
    fs.writeFileSync(txt, 'not an image');
    bad.push(zero, trunc, noise, txt);
  }
  return { root, train: path.join(root, 'train'), test: path.join(root, 'test'), bad };
}

export function tmpDir(prefix = 'graft-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
