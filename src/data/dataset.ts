import fs from 'node:fs';
import path from 'node:path';
import { GraftError } from '../errors.js';
import { parseManifest } from './manifest-file.js';
import { statOrWhy } from './fs-entry.js';

/** File extensions sharp decodes here (BMP, HEIC, SVG and RAW are deliberately absent). */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.jpe', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

export interface DatasetItem {
  /** Absolute path. */
  path: string;
  /** Index into `Dataset.classes`. */
  label: number;
  /** sha256 of the file's bytes, once computed (see hashItems in hash.ts). */
  hash?: string;
}

/** A file that was listed but will not be used, and why. Nothing is dropped silently. */
export interface SkippedFile {
  path: string;
  reason: string;
}

export interface Dataset {
  /** The folder (or manifest file) the dataset came from. */
  root: string;
  /** Class names; a label is an index into this list. */
  classes: string[];
  items: DatasetItem[];
  skipped: SkippedFile[];
  warnings: string[];
}

const SPLIT_NAMES = { train: ['train', 'training'], val: ['val', 'valid', 'validation'], test: ['test', 'testing'] } as const;

/** Whether a path names an image by its extension. */
export function isImagePath(p: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(p).toLowerCase());
}

/** Why a file in a class folder is not used, or undefined if it is an image. */
export function skipReason(name: string): string | undefined {
  if (name.startsWith('.')) return 'hidden file';
  const ext = path.extname(name).toLowerCase();
  if (IMAGE_EXTENSIONS.has(ext)) return undefined;
  if (ext === '.bmp' || ext === '.heic' || ext === '.svg') return `unsupported image format ${ext} (convert to PNG or JPEG)`;
  return `not an image (extension "${ext || '(none)'}"; expected one of ${[...IMAGE_EXTENSIONS].join(' ')})`;
}

function requireDir(root: string, what: string): void {
  if (!fs.existsSync(root)) {
    throw new GraftError('E_DATA_NOT_FOUND', `${what} not found: ${root}`, 'Pass a folder with one sub-folder per class, or a CSV/JSON manifest of path,label rows.');
  }
  if (!fs.statSync(root).isDirectory()) {
    throw new GraftError('E_DATA_NOT_A_FOLDER', `${what} must be a folder. Received a file: ${root}`, 'For a list of files use a .csv or .json manifest.');
  }
}

/**
 * If `root` holds split folders (train/ plus val/ or test/, each with class folders), return
 * them; a split layout read as classes would silently train on "train" vs "test".
 *
 * @example
 * findSplitFolders('data/demo/fashion-mnist'); // { train: '…/train', test: '…/test' }
 */
export function findSplitFolders(root: string): { train: string; val?: string; test?: string } | undefined {
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) return undefined;
  const found: Record<string, string> = {};
  for (const name of fs.readdirSync(root)) {
    const full = path.join(root, name);
    const st = statOrWhy(full);
    if (typeof st === 'string' || !st.isDirectory()) continue;
    for (const [split, names] of Object.entries(SPLIT_NAMES)) {
      if ((names as readonly string[]).includes(name.toLowerCase()) && !found[split]) found[split] = full;
    }
  }
  if (!found.train || !(found.val || found.test)) return undefined;
  const hasSubdirs = (d: string) => fs.readdirSync(d).some((n) => { const st = statOrWhy(path.join(d, n)); return typeof st !== 'string' && st.isDirectory(); });
  if (!hasSubdirs(found.train)) return undefined;
  return { train: found.train, val: found.val, test: found.test };
}

/**
 * Every regular file under `dir` (recursively, following symlinks), sorted for a stable order;
 * entries that cannot be read as files (dangling links, FIFOs, sockets) go to `skipped`. A FIFO
 * is never opened: reading one would block.
 */
function listFiles(dir: string, skipped: SkippedFile[], out: string[] = []): string[] {
  for (const name of fs.readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    const st = statOrWhy(full);
    if (typeof st === 'string') skipped.push({ path: full, reason: st });
    else if (st.isDirectory()) listFiles(full, skipped, out);
    else if (!st.isFile()) skipped.push({ path: full, reason: 'not a regular file (a FIFO, socket or device)' });
    else out.push(full);
  }
  return out;
}

/**
 * Read a folder with one sub-folder per class (class = folder name, sorted; files in nested
 * folders belong to the top-level class folder, as Keras and torchvision do). Non-image files are
 * returned in `skipped` with a reason. Throws for a missing folder, an empty class folder, fewer
 * than two classes, or a train/val/test layout (use `loadSplits` for that).
 *
 * @example
 * const ds = loadImageFolder('photos/');   // photos/cat/*.jpg, photos/dog/*.jpg
 * ds.classes; // ['cat', 'dog']
 */
export function loadImageFolder(root: string, opts: { minClasses?: number } = {}): Dataset {
  root = path.resolve(root);
  requireDir(root, 'Image folder');
  const split = findSplitFolders(root);
  if (split) {
    throw new GraftError(
      'E_DATA_SPLIT_LAYOUT',
      `${root} holds split folders (${Object.keys(split).join(', ')}), not class folders.`,
      `Pass the folder itself to loadSplits()/--data (it detects the splits), or point at ${split.train}.`,
    );
  }
  const skipped: SkippedFile[] = [];
  const warnings: string[] = [];
  const classes: string[] = [];
  for (const name of fs.readdirSync(root).sort()) {
    const full = path.join(root, name);
    const st = statOrWhy(full);
    if (typeof st === 'string') skipped.push({ path: full, reason: st });
    else if (st.isDirectory()) {
      // `.graft/` is Graft's own project folder (graft studio: settings, caches, versions, trash).
      if (name === '.graft') continue;
      if (name.startsWith('.')) skipped.push({ path: full, reason: 'hidden folder (not a class)' });
      else classes.push(name);
    } else skipped.push({ path: full, reason: 'file outside any class folder' });
  }
  const items: DatasetItem[] = [];
  const empty: string[] = [];
  classes.forEach((cls, label) => {
    let n = 0;
    for (const file of listFiles(path.join(root, cls), skipped)) {
      const reason = skipReason(path.basename(file));
      if (reason) skipped.push({ path: file, reason });
      else if (fs.statSync(file).size === 0) skipped.push({ path: file, reason: 'zero-byte file' });
      else {
        items.push({ path: file, label });
        n++;
      }
    }
    if (n === 0) empty.push(cls);
  });
  if (empty.length > 0) {
    throw new GraftError(
      'E_DATA_EMPTY_CLASS',
      `Every class folder needs at least one image. Empty: ${empty.map((c) => path.join(root, c)).join(', ')}`,
      `Add images (${[...IMAGE_EXTENSIONS].join(' ')}) or remove the folder.`,
    );
  }
  const ds: Dataset = { root, classes, items, skipped, warnings };
  checkClassCount(ds, opts.minClasses ?? 2);
  if (skipped.length > 0) warnings.push(`${skipped.length} file(s) skipped (see skipped): ${summarise(skipped.map((s) => `${path.relative(root, s.path)} (${s.reason})`))}`);
  return ds;
}

function checkClassCount(ds: Dataset, min: number): void {
  if (ds.classes.length < min) {
    throw new GraftError(
      ds.classes.length === 0 ? 'E_DATA_NO_CLASSES' : 'E_DATA_ONE_CLASS',
      `A classifier needs at least ${min} classes. Found ${ds.classes.length} in ${ds.root}: [${ds.classes.join(', ')}]`,
      'Put each class in its own sub-folder (root/<class>/<image>), or list path,label rows in a manifest.',
    );
  }
}

/** The first few entries and a count, for messages about long lists. */
export function summarise(list: string[], n = 5): string {
  return list.slice(0, n).join(', ') + (list.length > n ? ` … and ${list.length - n} more` : '');
}

/**
 * Read a CSV (`path,label`, header optional, any column order when there is one) or JSON
 * (`[{path,label}]`, `[[path,label]]` or `{classes?, items}`) manifest. Relative paths resolve
 * against the manifest's folder. Classes are the sorted distinct labels (numerically when all are
 * integers) unless the JSON lists `classes`. Missing and non-image files go to `skipped`.
 *
 * @example
 * const ds = loadManifest('labels.csv'); // rows like "img/001.jpg,cat"
 */
export function loadManifest(file: string, opts: { minClasses?: number; allowOutside?: boolean } = {}): Dataset {
  file = path.resolve(file);
  if (!fs.existsSync(file)) throw new GraftError('E_DATA_NOT_FOUND', `Manifest not found: ${file}`);
  const { rows, classes: declared } = parseManifest(file, fs.readFileSync(file, 'utf8'));
  const names = [...new Set(rows.map((r) => r.label))];
  const numeric = names.every((n) => /^-?\d+$/.test(n));
  const classes = declared ?? names.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  if (declared) {
    const unknown = names.filter((n) => !declared.includes(n));
    if (unknown.length > 0) throw new GraftError('E_DATA_MANIFEST', `${file}: labels not in "classes": ${summarise(unknown)}`, `Declared classes: ${declared.join(', ')}`);
  }
  const dir = path.dirname(file);
  const items: DatasetItem[] = [];
  const skipped: SkippedFile[] = [];
  // Entries are relative to the manifest's folder and must stay inside it (`../../etc/x` is a
  // mistake or an attack, never a training image) unless the user allows it (allowOutside).
  const outside = (p: string) => {
    const rel = path.relative(dir, path.resolve(dir, p));
    return rel.startsWith('..') || path.isAbsolute(rel);
  };
  const escaping = opts.allowOutside ? [] : rows.filter((r) => outside(r.path));
  if (escaping.length) {
    throw new GraftError('E_DATA_MANIFEST_OUTSIDE', `${file}: ${escaping.length} path(s) point outside the manifest's folder ${dir}: ${summarise(escaping.map((r) => r.path))}`, 'Move the manifest to a folder that holds the images, or pass --allow-outside if those paths are meant.');
  }
  for (const r of rows) {
    const p = path.resolve(dir, r.path);
    const reason = !fs.existsSync(p) ? 'file not found' : skipReason(path.basename(p));
    if (reason) skipped.push({ path: p, reason });
    else items.push({ path: p, label: classes.indexOf(r.label) });
  }
  const ds: Dataset = { root: file, classes, items, skipped, warnings: [] };
  checkClassCount(ds, opts.minClasses ?? 2);
  const counts = classes.map((_, i) => items.filter((it) => it.label === i).length);
  const empty = classes.filter((_, i) => counts[i] === 0);
  if (empty.length > 0) {
    throw new GraftError('E_DATA_EMPTY_CLASS', `Every class needs at least one usable image. None for: ${empty.join(', ')} in ${file}`, 'Check the paths listed in the manifest (see skipped).');
  }
  if (skipped.length > 0) ds.warnings.push(`${skipped.length} manifest row(s) skipped: ${summarise(skipped.map((s) => `${s.path} (${s.reason})`))}`);
  return ds;
}

/**
 * A folder or a manifest (.csv/.json), whichever `source` is.
 *
 * @example
 * const ds = loadDataset(process.argv[2]);
 */
export function loadDataset(source: string, opts: { minClasses?: number; allowOutside?: boolean } = {}): Dataset {
  const ext = path.extname(source).toLowerCase();
  if ((ext === '.csv' || ext === '.json' || ext === '.tsv') && !(fs.existsSync(source) && fs.statSync(source).isDirectory())) return loadManifest(source, opts);
  return loadImageFolder(source, { minClasses: opts.minClasses });
}

/**
 * Re-label `ds` (a validation or test set) by the training classes. A class training never saw is
 * an error (the model could not predict it); a training class absent here is a warning.
 *
 * @example
 * const val = alignClasses(loadImageFolder('val/'), train.classes, 'validation');
 */
export function alignClasses(ds: Dataset, trainClasses: readonly string[], role: string): Dataset {
  const unknown = ds.classes.filter((c) => !trainClasses.includes(c));
  if (unknown.length > 0) {
    throw new GraftError(
      'E_DATA_UNKNOWN_CLASSES',
      `The ${role} set has classes the training set lacks: ${unknown.join(', ')} (in ${ds.root})`,
      `Training classes: ${trainClasses.join(', ')}. Rename or remove those folders, or add them to training.`,
    );
  }
  const missing = trainClasses.filter((c) => !ds.classes.includes(c));
  const warnings = [...ds.warnings];
  if (missing.length > 0) warnings.push(`The ${role} set has no images of: ${missing.join(', ')}; their metrics will be empty.`);
  const map = ds.classes.map((c) => trainClasses.indexOf(c));
  return { ...ds, classes: [...trainClasses], items: ds.items.map((it) => ({ ...it, label: map[it.label]! })), warnings };
}
