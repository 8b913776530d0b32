import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Dataset, DatasetItem } from './dataset.js';
import { summarise } from './dataset.js';

// Hashes already computed in this process, valid while a file's size and mtime are unchanged:
// the second epoch, split check or cache lookup costs a stat, not a read.
const memo = new Map<string, { size: number; mtimeMs: number; hash: string }>();

/**
 * sha256 (hex) of a file's bytes — the identity of an image for the feature cache and for the
 * duplicate check.
 *
 * @example
 * const h = await hashFile('cats/1.jpg');
 */
export async function hashFile(file: string): Promise<string> {
  const st = await fs.promises.stat(file);
  const m = memo.get(file);
  if (m && m.size === st.size && m.mtimeMs === st.mtimeMs) return m.hash;
  const hash = hashBytes(await fs.promises.readFile(file));
  memo.set(file, { size: st.size, mtimeMs: st.mtimeMs, hash });
  return hash;
}

/** sha256 (hex) of bytes in memory. */
export function hashBytes(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/**
 * Fill `hash` on every item that lacks one, `concurrency` files at a time. Unreadable files keep
 * no hash (the decoder reports them later).
 *
 * @example
 * await hashItems(ds.items);
 */
export async function hashItems(items: DatasetItem[], concurrency = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const it = items[next++]!;
      if (it.hash) continue;
      try {
        it.hash = await hashFile(it.path);
      } catch {
        // left unhashed: decoding will report the file with its reason
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/**
 * Before training: hash every file of every split and warn about identical files in more than one
 * split (a leak that inflates validation scores) and within one split. Returns the warnings and
 * also appends them to each affected dataset's `warnings`.
 *
 * @example
 * const warnings = await checkDuplicates({ train, val, test });
 */
export async function checkDuplicates(splits: Record<string, Dataset | undefined>): Promise<string[]> {
  const entries = Object.entries(splits).filter((e): e is [string, Dataset] => e[1] !== undefined);
  for (const [, ds] of entries) await hashItems(ds.items);
  const seen = new Map<string, Array<{ split: string; path: string }>>();
  for (const [split, ds] of entries) {
    for (const it of ds.items) {
      if (!it.hash) continue;
      const list = seen.get(it.hash) ?? [];
      list.push({ split, path: it.path });
      seen.set(it.hash, list);
    }
  }
  const across: string[] = [];
  const within = new Map<string, string[]>();
  for (const list of seen.values()) {
    if (list.length < 2) continue;
    const splitsHere = new Set(list.map((e) => e.split));
    if (splitsHere.size > 1) across.push(list.map((e) => `${e.split}:${path.basename(e.path)}`).join(' = '));
    else {
      const s = list[0]!.split;
      within.set(s, [...(within.get(s) ?? []), list.map((e) => path.basename(e.path)).join(' = ')]);
    }
  }
  const warnings: string[] = [];
  if (across.length > 0) {
    const w = `${across.length} image(s) appear in more than one split (identical bytes), which inflates evaluation scores: ${summarise(across, 10)}`;
    warnings.push(w);
    for (const [, ds] of entries) ds.warnings.push(w);
  }
  for (const [split, groups] of within) {
    const w = `${groups.length} group(s) of identical files within ${split}: ${summarise(groups)}`;
    warnings.push(w);
    splits[split]!.warnings.push(w);
  }
  return warnings;
}
