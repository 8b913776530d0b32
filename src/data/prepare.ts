import path from 'node:path';
import crypto from 'node:crypto';
import { GraftError } from '../errors.js';
import type { DatasetItem } from './dataset.js';
import { hashItems } from './hash.js';
import { loadSplits } from './split.js';
import type { ResolvedTrainOptions } from '../options.js';

/** Data split into the sets one training run needs; class labels aligned to `classes`. */
export interface PreparedData {
  classes: string[];
  train: DatasetItem[];
  val: DatasetItem[];
  test: DatasetItem[];
  skipped: { path: string; reason: string }[];
  warnings: string[];
  root: string;
  fingerprint: string;
}

/**
 * Read the training folder (or manifest), validate it and split it — stratified, seeded — into
 * train / validation (and test where a test set is given). A folder holding `train/` (and
 * optionally `val/`, `test/`) sub-folders uses those as the splits.
 */
export async function prepareData(o: Pick<ResolvedTrainOptions, 'data' | 'val' | 'test' | 'valSplit' | 'seed'> & { requireVal?: boolean; allowOutside?: boolean }): Promise<PreparedData> {
  const s = await loadSplits(o.data, { val: o.val, test: o.test, valSplit: o.valSplit, seed: o.seed, allowOutside: o.allowOutside });
  const val = s.val?.items ?? [];
  const test = s.test?.items ?? [];
  // Needed to evaluate when there is no test set and to monitor gradient training; the probe
  // recipe cross-validates on every labelled image instead (requireVal: false).
  if (val.length === 0 && o.requireVal !== false) {
    throw new GraftError('E_DATA_NO_VALIDATION', `No validation images: ${o.data} is too small to hold any out (valSplit=${o.valSplit}).`, 'Add images, raise --val-split, or pass --val <folder>.');
  }
  const all = [...s.train.items, ...val, ...test];
  await hashItems(all.filter((i) => !i.hash));
  refuseConflictingLabels(all, s.train.classes);
  const fp = crypto.createHash('sha256');
  for (const it of all) fp.update(`${s.train.classes[it.label]}:${it.hash}\n`);
  const skipped = [...s.train.skipped, ...(s.val?.skipped ?? []), ...(s.test?.skipped ?? [])];
  return {
    classes: s.train.classes,
    train: s.train.items,
    val,
    test,
    skipped,
    warnings: s.warnings,
    root: path.resolve(o.data),
    fingerprint: fp.digest('hex'),
  };
}

/**
 * The same image (the same bytes, whatever its name or folder) under two classes is a labelling
 * error a classifier cannot learn from: refuse it, listing every such image.
 */
function refuseConflictingLabels(items: DatasetItem[], classes: string[]): void {
  const byHash = new Map<string, DatasetItem[]>();
  for (const it of items) if (it.hash) byHash.set(it.hash, [...(byHash.get(it.hash) ?? []), it]);
  const conflicts = [...byHash.values()].filter((g) => new Set(g.map((i) => i.label)).size > 1);
  if (!conflicts.length) return;
  const lines = conflicts.slice(0, 10).map((g) => `  - ${g.map((i) => `${i.path} (${classes[i.label]})`).join(' = ')}`);
  throw new GraftError('E_DATA_CONFLICTING_LABELS', `${conflicts.length} image(s) appear under more than one class:\n${lines.join('\n')}${conflicts.length > 10 ? `\n  … and ${conflicts.length - 10} more` : ''}`, 'Keep each image in one class folder (or one manifest row), then train again.');
}
