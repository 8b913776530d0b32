import { GraftError } from '../errors.js';
import { alignClasses, findSplitFolders, loadDataset, loadImageFolder, type Dataset } from './dataset.js';
import { checkDuplicates } from './hash.js';
import { deriveSeed, Rng } from './rng.js';

export interface SplitFractions {
  /** Fraction of each class for validation, in [0, 1). */
  val: number;
  /** Fraction of each class for test (default 0). */
  test?: number;
  seed: number;
}

export interface Splits {
  train: Dataset;
  val?: Dataset;
  test?: Dataset;
  /** Every warning of every split, plus the duplicate check's. */
  warnings: string[];
}

/**
 * Stratified, seeded split: each class is shuffled on its own stream and cut by the fractions, so
 * the same seed gives the same split, and adding a class leaves the others' splits unchanged.
 * Every class keeps at least one training image; a class with at least 2 (3 with a test
 * fraction) images gets at least one validation (and test) image when the fraction is > 0.
 *
 * @example
 * const { train, val } = stratifiedSplit(loadImageFolder('photos/'), { val: 0.2, seed: 42 });
 */
export function stratifiedSplit(ds: Dataset, f: SplitFractions): { train: Dataset; val?: Dataset; test?: Dataset } {
  const testF = f.test ?? 0;
  if (!(f.val >= 0 && testF >= 0 && f.val + testF < 1)) {
    throw new GraftError('E_BAD_SPLIT', `Split fractions must be >= 0 and sum to less than 1. Received: val=${f.val}, test=${testF}`, 'Example: { val: 0.2, test: 0.1 }');
  }
  const byClass: number[][] = ds.classes.map(() => []);
  ds.items.forEach((it, i) => byClass[it.label]!.push(i));
  const part = ds.items.map(() => 0); // 0 train, 1 val, 2 test
  byClass.forEach((idx, c) => {
    const n = idx.length;
    new Rng(deriveSeed(f.seed, 'split', ds.classes[c]!)).shuffle(idx);
    let nTest = Math.round(n * testF);
    let nVal = Math.round(n * f.val);
    if (testF > 0 && nTest === 0 && n >= 3) nTest = 1;
    if (f.val > 0 && nVal === 0 && n - nTest >= 2) nVal = 1;
    // Never leave a class without training images; validation (early stopping, model choice) outranks test.
    while (nVal + nTest > n - 1 && (nVal > 0 || nTest > 0)) {
      if (nTest > 0) nTest--;
      else nVal--;
    }
    idx.forEach((i, k) => (part[i] = k < nVal ? 1 : k < nVal + nTest ? 2 : 0));
  });
  const pick = (p: number, name: string): Dataset => ({
    ...ds,
    items: ds.items.filter((_, i) => part[i] === p),
    skipped: p === 0 ? ds.skipped : [],
    warnings: p === 0 ? [...ds.warnings] : [],
    root: `${ds.root} (${name} split)`,
  });
  return { train: pick(0, 'train'), val: f.val > 0 ? pick(1, 'val') : undefined, test: testF > 0 ? pick(2, 'test') : undefined };
}

export interface LoadSplitsOptions {
  /** Explicit validation folder/manifest; otherwise `valSplit` of the training data is held out. */
  val?: string;
  /** Explicit test folder/manifest; otherwise `testSplit` of the training data. */
  test?: string;
  valSplit?: number;
  testSplit?: number;
  seed?: number;
  /** Hash every file and warn about identical files across splits (default true). */
  checkDuplicates?: boolean;
  /** Manifests may list images outside their own folder. */
  allowOutside?: boolean;
}

/**
 * Everything `--data` can mean, in one call: a folder with train/ and val|test/ split folders, a
 * class folder or manifest (split by `valSplit`/`testSplit`), plus optional explicit val/test
 * sources. Held-out sets are re-labelled by the training classes (unknown classes are an error),
 * and files duplicated across splits are reported in `warnings`.
 *
 * @example
 * const { train, val, test, warnings } = await loadSplits('data/demo/fashion-mnist', { valSplit: 0.2, seed: 42 });
 */
export async function loadSplits(source: string, o: LoadSplitsOptions = {}): Promise<Splits> {
  const seed = o.seed ?? 42;
  const layout = findSplitFolders(source);
  let train: Dataset;
  let val: Dataset | undefined;
  let test: Dataset | undefined;
  if (layout) {
    train = loadImageFolder(layout.train);
    if (layout.val) val = loadImageFolder(layout.val, { minClasses: 1 });
    if (layout.test) test = loadImageFolder(layout.test, { minClasses: 1 });
  } else train = loadDataset(source, { allowOutside: o.allowOutside });
  if (o.val) val = loadDataset(o.val, { minClasses: 1, allowOutside: o.allowOutside });
  if (o.test) test = loadDataset(o.test, { minClasses: 1, allowOutside: o.allowOutside });
  const valF = val ? 0 : (o.valSplit ?? 0.2);
  const testF = test ? 0 : (o.testSplit ?? 0);
  if (valF > 0 || testF > 0) {
    const s = stratifiedSplit(train, { val: valF, test: testF, seed });
    train = s.train;
    val = val ?? s.val;
    test = test ?? s.test;
  }
  if (val) val = alignClasses(val, train.classes, 'validation');
  if (test) test = alignClasses(test, train.classes, 'test');
  if (o.checkDuplicates ?? true) await checkDuplicates({ train, val, test });
  const warnings = [...new Set([...train.warnings, ...(val?.warnings ?? []), ...(test?.warnings ?? [])])];
  return { train, val, test, warnings };
}
