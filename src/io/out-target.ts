import fs from 'node:fs';
import path from 'node:path';
import { GraftError } from '../errors.js';

/**
 * Where Graft may write. A model directory is replaced whole (staged, then swapped in), so the
 * target must be Graft's own earlier output or nothing of the user's: an `--out` that names a
 * user's file, a folder of theirs or the training data would otherwise be deleted. The rules:
 *
 * - a path that does not exist, or an empty folder: written;
 * - a Graft model directory (a parseable graft.json and only the files Graft writes there):
 *   replaced with `force`, refused without it;
 * - anything else (a file, a symbolic link, a folder holding other files, a folder that holds or
 *   lies inside the data being read): refused, with or without `force`.
 */

/** The names Graft writes into a model directory; anything else there is the user's. */
export const MODEL_DIR_FILES: ReadonlySet<string> = new Set(['graft.json', 'model.json', 'weights.bin', 'model.onnx', 'report.html', 'train-log.jsonl']);

/** The names Graft writes into a training checkpoint folder (`<out>.checkpoint`). */
/** The lock file a training run holds in its checkpoint folder. */
export const RUN_LOCK = 'run.lock';
const CHECKPOINT_FILES: ReadonlySet<string> = new Set(['train-log.jsonl', 'resume', 'model', RUN_LOCK]);

export interface OutTargetOptions {
  /** Replace Graft's own earlier output (never anything else). */
  force?: boolean;
  /** Paths being read by this run (data folders, manifests, source models): never written over. */
  protect?: (string | undefined)[];
  /** The flag the user set, for messages. Default '--out'. */
  flag?: string;
}

export type OutState = 'new' | 'empty' | 'replace';

/** Resolve symbolic links of the longest existing prefix, so two spellings of one place compare equal. */
function realish(p: string): string {
  const abs = path.resolve(p);
  let head = abs;
  const tail: string[] = [];
  while (!fs.existsSync(head)) {
    const up = path.dirname(head);
    if (up === head) return abs;
    tail.unshift(path.basename(head));
    head = up;
  }
  return path.join(fs.realpathSync(head), ...tail);
}

const inside = (child: string, parent: string): boolean => {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
};

function checkProtected(target: string, o: OutTargetOptions): void {
  const flag = o.flag ?? '--out';
  const t = realish(target);
  for (const p of o.protect ?? []) {
    if (!p || !fs.existsSync(p)) continue;
    const q = realish(p);
    if (inside(t, q) || inside(q, t)) {
      throw new GraftError(
        'E_OUT_PROTECTED',
        `${flag} ${target} ${t === q ? 'is' : inside(t, q) ? 'lies inside' : 'contains'} ${p}, which this command reads. Received: ${flag}=${target}.`,
        `Write the output somewhere else, e.g. ${flag} ${path.join(path.dirname(q), path.basename(q) + '-model')}.`,
      );
    }
  }
}

/** After the protected-path check: what is at `target` now (the link itself, not its target), or undefined. */
function existing(target: string, o: OutTargetOptions): fs.Stats | undefined {
  checkProtected(target, o);
  try {
    return fs.lstatSync(target);
  } catch {
    return undefined;
  }
}

/** Entries of a folder that Graft did not write (its own staging and temporary files start with a dot). */
function foreignEntries(dir: string, own: ReadonlySet<string>): string[] {
  return fs.readdirSync(dir).filter((n) => !own.has(n) && !(n.startsWith('.') && (n.includes('.staging-') || n.endsWith('.tmp'))));
}

function isGraftManifest(dir: string): boolean {
  const f = path.join(dir, 'graft.json');
  try {
    const v = JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>;
    return typeof v === 'object' && v !== null && Array.isArray(v.classes) && typeof v.backbone === 'object';
  } catch {
    return false;
  }
}

const list = (names: string[]): string => names.slice(0, 5).join(', ') + (names.length > 5 ? `, … (${names.length} entries)` : '');

/**
 * Check that a model directory may be written at `target`, before any work starts, and again
 * just before the swap. Throws a GraftError naming the rule; returns what will happen.
 *
 * @example
 * checkModelOut('my-model', { force: false, protect: ['photos/'] }); // 'new' | 'empty' | 'replace'
 */
export function checkModelOut(target: string, o: OutTargetOptions = {}, own: ReadonlySet<string> = MODEL_DIR_FILES): OutState {
  const flag = o.flag ?? '--out';
  const st = existing(target, o);
  if (!st) return 'new';
  if (st.isSymbolicLink()) {
    throw new GraftError('E_OUT_EXISTS', `${flag} ${target} is a symbolic link; Graft does not replace links or what they point to.`, `Pass the real folder's path, or a new ${flag} path.`);
  }
  if (!st.isDirectory()) {
    throw new GraftError('E_OUT_EXISTS', `${flag} ${target} is an existing file, not a Graft model directory; Graft never overwrites files it did not write.`, `Choose a new ${flag} path (a folder that does not exist yet, or an empty one).`);
  }
  const entries = fs.readdirSync(target).filter((n) => !(n.startsWith('.') && (n.includes('.staging-') || n.endsWith('.tmp'))));
  if (entries.length === 0) return 'empty';
  const foreign = foreignEntries(target, own);
  const graft = own === MODEL_DIR_FILES ? isGraftManifest(target) : true;
  if (!graft || foreign.length) {
    const why = graft ? `holds a Graft model but also files Graft did not write (${list(foreign)})` : `is not empty and holds no Graft model (found: ${list(entries)})`;
    throw new GraftError('E_OUT_EXISTS', `${flag} ${target} ${why}; Graft replaces only its own model directories, so nothing there is touched.`, `Choose a new ${flag} path (a folder that does not exist yet, or an empty one).`);
  }
  if (!o.force) {
    throw new GraftError('E_OUT_EXISTS', `${flag} ${target} already holds a Graft model.`, `Pass --force to replace it, or choose a new ${flag} path.`);
  }
  return 'replace';
}

/**
 * The per-run checkpoint folder beside a model directory (`<out>.checkpoint`) is Graft's: it may
 * be reused only while it holds nothing else.
 */
export function checkCheckpointDir(dir: string): void {
  checkModelOut(dir, { force: true, flag: 'checkpoint folder' }, CHECKPOINT_FILES);
}

/** The marker Graft puts in the HTML and SVG files it writes, so a later run knows them as its own. */
export const GRAFT_FILE_MARKER = 'generator: graft';

/**
 * Check that a single output file (an HTML plot, an SVG) may be written: a new path, or a file
 * Graft wrote earlier (it carries {@link GRAFT_FILE_MARKER}) with `force`.
 */
export function checkFileOut(target: string, o: OutTargetOptions = {}): OutState {
  const flag = o.flag ?? '--out';
  const st = existing(target, o);
  if (!st) return 'new';
  if (!st.isFile()) {
    throw new GraftError('E_OUT_EXISTS', `${flag} ${target} exists and is not a regular file.`, `Choose a new ${flag} path.`);
  }
  const fd = fs.openSync(target, 'r');
  const head = Buffer.alloc(4096);
  const n = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  if (!head.subarray(0, n).toString('utf8').includes(GRAFT_FILE_MARKER)) {
    throw new GraftError('E_OUT_EXISTS', `${flag} ${target} is an existing file that Graft did not write; Graft never overwrites it.`, `Choose a new ${flag} path.`);
  }
  if (!o.force) throw new GraftError('E_OUT_EXISTS', `${flag} ${target} already exists (written by Graft earlier).`, `Pass --force to replace it, or choose a new ${flag} path.`);
  return 'replace';
}
