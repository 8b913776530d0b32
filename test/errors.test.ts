// The error-code catalogue (src/errors.ts) against the source: every code src/ raises, compares or
// names is catalogued; every catalogued code is used (deprecated ones until their last use goes);
// every description is one non-empty line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES, GraftError, isGraftError, type ErrorCode } from '../src/errors.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ERRORS_FILE = path.join(ROOT, 'src', 'errors.ts');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

interface Use {
  code: string;
  where: string;
}

const CODE = /^E_[A-Z0-9_]+$/;
/** A code in quotes: 'E_X', "E_X" or `E_X`. */
const QUOTED = /(['"`])(E_[A-Z0-9_]+)\1/g;
/** A code named in a comment (doc references such as "throws E_X"). */
const BARE = /\bE_[A-Z][A-Z0-9_]*\b/g;
const COMMENT = /\/\*[\s\S]*?\*\/|\/\/[^\n]*/g;

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

/** The first argument of a call whose `(` is at `open`: the text up to the first top-level comma. */
function firstArg(text: string, open: number): string {
  let depth = 0;
  let quote: string | null = null;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return text.slice(open + 1, i);
      depth--;
    } else if (c === ',' && depth === 0) return text.slice(open + 1, i);
  }
  return text.slice(open + 1);
}

/**
 * Every error code one source text uses: quoted 'E_…' literals anywhere (throws, multi-line
 * constructions, codes held in variables or ternaries, `err.code === 'E_…'` checks), codes named
 * in comments, and the first argument of each `new GraftError(`. A first argument built at run time
 * (a template with `${…}`) is reported as `problems`: codes must be static to be checked.
 */
function scanCodes(text: string, file: string): { uses: Use[]; problems: string[] } {
  const uses = new Map<string, Use>();
  const add = (code: string, where: string) => uses.set(`${code} ${where}`, { code, where });
  const problems: string[] = [];
  for (const m of text.matchAll(QUOTED)) add(m[2], `${file}:${lineOf(text, m.index)}`);
  for (const c of text.matchAll(COMMENT)) {
    for (const m of c[0].matchAll(BARE)) add(m[0], `${file}:${lineOf(text, c.index + m.index)} (comment)`);
  }
  for (const m of text.matchAll(/new\s+GraftError\s*\(/g)) {
    const open = m.index + m[0].length - 1;
    const arg = firstArg(text, open);
    if (arg.includes('${')) problems.push(`${file}:${lineOf(text, m.index)}: the code is built at run time (${arg.trim()})`);
    // Literal codes here were found above; a bare identifier (a variable, or a helper's
    // `code: ErrorCode` parameter) is typed by the compiler, and its literals are quoted elsewhere.
    for (const q of arg.matchAll(QUOTED)) add(q[2], `${file}:${lineOf(text, open + 1 + (q.index ?? 0))}`);
  }
  return { uses: [...uses.values()], problems };
}

function scanTree(dir: string, skip: (file: string) => boolean = () => false): { uses: Use[]; problems: string[] } {
  const uses: Use[] = [];
  const problems: string[] = [];
  for (const f of tsFiles(dir)) {
    if (skip(f)) continue;
    const r = scanCodes(fs.readFileSync(f, 'utf8'), path.relative(ROOT, f));
    uses.push(...r.uses);
    problems.push(...r.problems);
  }
  return { uses, problems };
}

const uncatalogued = (uses: Use[]) => uses.filter((u) => !Object.hasOwn(ERROR_CODES, u.code)).map((u) => `${u.code} at ${u.where}`);

/** `/** @deprecated use E_NEW *\/ E_OLD: '…'` entries of the catalogue: old → new. */
function deprecatedCodes(): Map<string, string> {
  const text = fs.readFileSync(ERRORS_FILE, 'utf8');
  const out = new Map<string, string>();
  for (const m of text.matchAll(/\/\*\*\s*@deprecated\s+use\s+(E_[A-Z0-9_]+)\s*\*\/\s*(E_[A-Z0-9_]+)\s*:/g)) out.set(m[2], m[1]);
  assert.equal(out.size, [...text.matchAll(/\/\*\*\s*@deprecated/g)].length, 'every @deprecated in src/errors.ts reads `/** @deprecated use E_X */` right before its code');
  return out;
}

const src = scanTree(path.join(ROOT, 'src'), (f) => f === ERRORS_FILE);

test('(a) every code used in src/ is in ERROR_CODES', () => {
  assert.ok(src.uses.length > 100, `the scan found only ${src.uses.length} code uses; is it still reading src/?`);
  assert.deepEqual(src.problems, [], 'error codes must be static literals');
  assert.deepEqual(uncatalogued(src.uses), [], 'codes used in src/ but missing from ERROR_CODES (src/errors.ts)');
});

test('(a) the scan catches an unknown code, however the construction is written', () => {
  const bogus = ['E', 'NOT', 'A', 'CATALOGUED', 'CODE'].join('_');
  const q = "'";
  const samples = [
    `throw new GraftError(${q}${bogus}${q}, 'message');`,
    `throw new GraftError(\n      ${q}${bogus}${q},\n      \`multi-line \${x}\`,\n      'hint',\n    );`,
    `const code = n === 0 ? ${q}${bogus}${q} : ${q}E_DATA_ONE_CLASS${q};\nthrow new GraftError(code, 'm');`,
    `if (isGraftError(e) && e.code === "${bogus}") return;`,
    `/** Throws ${bogus} when the input is empty. */`,
  ];
  for (const s of samples) {
    assert.deepEqual(uncatalogued(scanCodes(s, 'sample.ts').uses), [`${bogus} at sample.ts:${s.split('\n').findIndex((l) => l.includes(bogus)) + 1}${s.startsWith('/**') ? ' (comment)' : ''}`], s);
  }
  assert.equal(scanCodes('new GraftError(`E_${area}_FAILED`, "m")', 'sample.ts').problems.length, 1, 'a run-time code is flagged');
  assert.deepEqual(uncatalogued(scanCodes("throw new GraftError('E_UNKNOWN_MODEL', 'm');", 'sample.ts').uses), []);
});

test('(a) every code the tests assert is in ERROR_CODES', () => {
  const t = scanTree(path.join(ROOT, 'test'), (f) => f === fileURLToPath(import.meta.url));
  assert.deepEqual(uncatalogued(t.uses), [], 'codes asserted in test/ but missing from ERROR_CODES');
});

test('(b) every catalogued code is used in src/, except deprecated ones; deprecated ones point to a live code', () => {
  const used = new Set(src.uses.map((u) => u.code));
  const deprecated = deprecatedCodes();
  const dead = Object.keys(ERROR_CODES).filter((c) => !used.has(c) && !deprecated.has(c));
  assert.deepEqual(dead, [], 'ERROR_CODES entries no source file uses: remove them');
  for (const [old, now] of deprecated) {
    assert.ok(Object.hasOwn(ERROR_CODES, old), `${old} is marked deprecated but is not a catalogue key`);
    assert.ok(Object.hasOwn(ERROR_CODES, now) && !deprecated.has(now), `${old} is deprecated in favour of ${now}, which must be a current code`);
    assert.ok(used.has(now), `${now} (the replacement for ${old}) is not used in src/`);
    assert.ok(used.has(old), `${old} is deprecated and no longer used in src/: delete its entry`);
  }
});

test('(c) each entry is an E_ code with a one-line, non-empty description; the catalogue is frozen', () => {
  assert.ok(Object.isFrozen(ERROR_CODES));
  for (const [code, description] of Object.entries(ERROR_CODES)) {
    assert.match(code, CODE);
    assert.equal(typeof description, 'string', code);
    assert.ok(description.trim().length > 0, `${code} has an empty description`);
    assert.ok(!description.includes('\n'), `${code}: the description must be one line`);
  }
});

test('GraftError keeps its shape: code, hint, message with the hint appended', () => {
  const e = new GraftError('E_UNKNOWN_MODEL', 'Unknown model "x".', 'Should be one of: a, b');
  assert.ok(e instanceof Error && isGraftError(e));
  assert.equal(e.name, 'GraftError');
  assert.equal(e.code, 'E_UNKNOWN_MODEL');
  assert.equal(e.hint, 'Should be one of: a, b');
  assert.equal(e.message, 'Unknown model "x".\n  hint: Should be one of: a, b');
  const plain = new GraftError('E_UNKNOWN_MODEL', 'no hint');
  assert.equal(plain.message, 'no hint');
  assert.equal(plain.hint, undefined);
  const code: ErrorCode = plain.code;
  assert.ok(Object.hasOwn(ERROR_CODES, code));
  // An unknown code does not compile (tsc -p tsconfig.check.json fails on an unused directive).
  // @ts-expect-error 'E_NOT_A_CODE' is not an ErrorCode
  assert.equal(new GraftError('E_NOT_A_CODE', 'm').code, 'E_NOT_A_CODE');
});
