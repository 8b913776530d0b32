import path from 'node:path';
import { GraftError } from '../errors.js';

export interface ManifestRow {
  path: string;
  label: string;
}

const PATH_COLS = ['path', 'file', 'filename', 'filepath', 'image', 'img'];
const LABEL_COLS = ['label', 'class', 'category', 'target', 'y'];

/** Split one CSV/TSV line, honouring double quotes ("a,b" and "" escapes). */
export function splitCsvLine(line: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === sep) out.push(cur.trim()), (cur = '');
    else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

function bad(file: string, problems: string[]): never {
  throw new GraftError(
    'E_DATA_MANIFEST',
    `Cannot read manifest ${file}:\n${problems.slice(0, 10).map((p) => `  - ${p}`).join('\n')}${problems.length > 10 ? `\n  … and ${problems.length - 10} more` : ''}`,
    'CSV: one "path,label" row per image (header optional). JSON: [{"path": …, "label": …}] or {"classes": [...], "items": [...]}.',
  );
}

/**
 * Parse manifest text into rows; the header of a CSV is recognised by its column names
 * (path/file/image and label/class/…), so a headerless file works too.
 *
 * @example
 * parseManifest('m.csv', 'path,label\na.jpg,cat\n').rows; // [{ path: 'a.jpg', label: 'cat' }]
 */
export function parseManifest(file: string, text: string): { rows: ManifestRow[]; classes?: string[] } {
  return path.extname(file).toLowerCase() === '.json' ? parseJson(file, text) : parseCsv(file, text);
}

function parseCsv(file: string, text: string): { rows: ManifestRow[] } {
  const sep = path.extname(file).toLowerCase() === '.tsv' ? '\t' : ',';
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const problems: string[] = [];
  const rows: ManifestRow[] = [];
  let pi = 0;
  let li = 1;
  let first = true;
  lines.forEach((line, n) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const f = splitCsvLine(line, sep);
    if (first) {
      first = false;
      const lower = f.map((x) => x.toLowerCase());
      const p = lower.findIndex((x) => PATH_COLS.includes(x));
      const l = lower.findIndex((x) => LABEL_COLS.includes(x));
      if (p >= 0 && l >= 0) return void ((pi = p), (li = l));
    }
    const p = f[pi];
    const l = f[li];
    if (!p || !l) problems.push(`line ${n + 1}: expected a path and a label, got ${JSON.stringify(line)}`);
    else rows.push({ path: p, label: l });
  });
  if (problems.length > 0) bad(file, problems);
  if (rows.length === 0) bad(file, ['no rows']);
  return { rows };
}

function parseJson(file: string, text: string): { rows: ManifestRow[]; classes?: string[] } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    bad(file, [(e as Error).message]);
  }
  let classes: string[] | undefined;
  let list: unknown = v;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as { classes?: unknown; items?: unknown };
    list = o.items;
    if (o.classes !== undefined) {
      if (!Array.isArray(o.classes) || !o.classes.every((c) => typeof c === 'string')) bad(file, ['"classes" must be an array of strings']);
      classes = o.classes as string[];
    }
  }
  if (!Array.isArray(list)) bad(file, ['expected an array of items, or an object with "items"']);
  const problems: string[] = [];
  const rows: ManifestRow[] = [];
  list.forEach((e: unknown, i: number) => {
    const [p, l] = Array.isArray(e) ? e : e && typeof e === 'object' ? [(e as { path?: unknown }).path, (e as { label?: unknown }).label] : [];
    // An integer label indexes the declared classes; anything else is a class name.
    const label = typeof l === 'number' && classes ? classes[l] : typeof l === 'number' || typeof l === 'string' ? String(l) : undefined;
    if (typeof p !== 'string' || p === '' || label === undefined) problems.push(`item ${i}: expected {path: string, label: string|number}, got ${JSON.stringify(e)}`);
    else rows.push({ path: p, label });
  });
  if (problems.length > 0) bad(file, problems);
  if (rows.length === 0) bad(file, ['no items']);
  return { rows, classes };
}
