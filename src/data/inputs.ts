import fs from 'node:fs';
import path from 'node:path';
import { skipReason } from './dataset.js';
import { isLink, statOrWhy } from './fs-entry.js';

/** Files and folders to classify or embed, expanded: what will be read, and what will not and why. */
export interface ExpandedInputs {
  /** Image files, folders expanded recursively, sorted within each folder. */
  images: string[];
  /** Paths given that do not exist. */
  missing: string[];
  /** Entries inside the folders that are not read, with the reason (nothing is dropped silently). */
  skipped: { path: string; reason: string }[];
}

/**
 * Files as given, folders expanded (recursively) to the images inside, sorted. Inside folders a
 * dangling link, a FIFO or socket, a hidden file or a file that is not a decodable image is
 * listed in `skipped` with the reason; a FIFO is never opened (reading one would block).
 *
 * @example
 * const { images, skipped } = expandInputs(['photos/', 'cat.jpg']);
 */
export function expandInputs(inputs: string[]): ExpandedInputs {
  const out: ExpandedInputs = { images: [], missing: [], skipped: [] };
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (name.startsWith('.')) continue; // hidden entries (.DS_Store, .git) are not the user's images
      const st = statOrWhy(p);
      if (typeof st === 'string') out.skipped.push({ path: p, reason: st });
      else if (st.isDirectory()) walk(p);
      else if (!st.isFile()) out.skipped.push({ path: p, reason: 'not a regular file (a FIFO, socket or device)' });
      else {
        const why = skipReason(name);
        if (why) out.skipped.push({ path: p, reason: why });
        else out.images.push(p);
      }
    }
  };
  for (const i of inputs) {
    const st = statOrWhy(i);
    if (typeof st === 'string') {
      if (fs.existsSync(i) || !isLink(i)) out.missing.push(i);
      else out.skipped.push({ path: i, reason: st });
    } else if (st.isDirectory()) walk(i);
    else if (!st.isFile()) out.skipped.push({ path: i, reason: 'not a regular file (a FIFO, socket or device)' });
    else out.images.push(i);
  }
  return out;
}
