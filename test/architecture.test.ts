import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The shape ARCHITECTURE.md describes, checked: no import circle between source files, the
// floors never import the workflow layer above them, and no source file does two jobs' worth of
// lines. Type-only imports count: a circle of types is still a circle a reader has to untangle.

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const SPEC = /(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}

const files = sources(SRC);
const rel = (f: string) => path.relative(SRC, f).split(path.sep).join('/');
const graph = new Map<string, string[]>(
  files.map((f) => {
    const deps: string[] = [];
    for (const m of fs.readFileSync(f, 'utf8').matchAll(SPEC)) {
      const t = path.resolve(path.dirname(f), m[1]!).replace(/\.js$/, '.ts');
      if (fs.existsSync(t)) deps.push(rel(t));
    }
    return [rel(f), deps];
  }),
);

/** Strongly connected components with more than one file (Tarjan). */
function circles(g: Map<string, string[]>): string[][] {
  let n = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

test('no import circle between source files', () => {
  assert.deepEqual(circles(graph), []);
  // The detector itself finds a planted circle.
  assert.deepEqual(circles(new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts']], ['d.ts', ['a.ts']]])), [['a.ts', 'b.ts', 'c.ts']]);
});

test('the floors below the workflow never import it (nor the CLI, nor the server, nor the studio)', () => {
  const floors = ['adapt/', 'heads/', 'backbones/', 'features/', 'recipes/', 'engine/', 'train/', 'transfer/', 'zoo/', 'weights/', 'data/', 'io/', 'evaluate/'];
  const bad = [...graph].flatMap(([f, deps]) => (floors.some((p) => f.startsWith(p)) ? deps.filter((d) => d.startsWith('workflow/') || d.startsWith('cli/') || d.startsWith('serve/')).map((d) => `${f} → ${d}`) : []));
  assert.deepEqual(bad, []);
  // The server sits beside the workflow: it uses the verbs, the CLI uses it, never the other way.
  const up = [...graph].flatMap(([f, deps]) => (f.startsWith('serve/') || f.startsWith('workflow/') ? deps.filter((d) => d.startsWith('cli/')).map((d) => `${f} → ${d}`) : []));
  assert.deepEqual(up, []);
  // The studio sits at the top beside the CLI: only the CLI and the public index import it.
  const studio = [...graph].flatMap(([f, deps]) => (!f.startsWith('studio/') && !f.startsWith('cli/') && f !== 'index.ts' ? deps.filter((d) => d.startsWith('studio/')).map((d) => `${f} → ${d}`) : []));
  assert.deepEqual(studio, []);
  const studioUp = [...graph].flatMap(([f, deps]) => (f.startsWith('studio/') ? deps.filter((d) => d.startsWith('cli/')).map((d) => `${f} → ${d}`) : []));
  assert.deepEqual(studioUp, []);
});

test('every source file stays at or under 400 lines (data tables excepted)', () => {
  const DATA_TABLES = new Set(['zoo/imagenet-classes.ts']);
  const long = files.filter((f) => !DATA_TABLES.has(rel(f))).map((f) => [rel(f), fs.readFileSync(f, 'utf8').split('\n').length - 1] as const).filter(([, n]) => n > 400);
  assert.deepEqual(long, []);
});

test('layers are frozen or unfrozen only through transfer/freeze.ts', () => {
  const bad = files.filter((f) => rel(f) !== 'transfer/freeze.ts' && /\.trainable\s*=(?!=)/.test(fs.readFileSync(f, 'utf8'))).map(rel);
  assert.deepEqual(bad, []);
});
