// `npm run bench:accuracy`: how accurate is Graft's DEFAULT `graft train`, against a reference
// linear probe on the same backbone's features, on real image sets Graft's tests never use?
//
//   node scripts/build-accuracy-data.mjs            # once: the sets, from Debian packages
//   node --import tsx bench/accuracy.ts [--sets a,b] [--budgets 1,5,10,25,100] [--seeds 3] [--quick]
//
// For each set × budget (labelled images per class) × seed, a seeded per-class sample of the
// set's pool (nested: the budget-5 sample is the first 5 of the budget-10 one) is written as a CSV
// manifest, then:
//   default   `node bin/graft.js train <manifest> --out <tmp>/model --test <test manifest> --quiet`
//             — no tuning flag at all, exactly what a user types; the whole process is timed and
//             accuracy is read from <tmp>/model/graft.json (metrics.accuracy on split 'test'),
//             with what Graft chose (backbone.cut, head.kind, training.stages).
//   scratch   the same command with `--weights none` (the same network, randomly initialised).
//   probe     pooled MobileNetV2 (nsfwjs weights) features from Graft's own library at several
//             cuts (and at every cut the default run chose), through one feature cache
//             (bench/.data/cache), exported as float32 matrices and fitted by
//             bench/peers/probe.py (StandardScaler + multinomial LogisticRegression, C by CV).
//             'oracle' = the single cut with the best mean test accuracy over seeds (an upper bound:
//             it is chosen on the test set).
// Results: bench/.data/accuracy-results.json (rewritten after every run) and a Markdown table per set.
//
// Options:
//   --sets a,b            sets from bench/.data/accuracy/sets.json (default: all built)
//   --budgets 1,5,10,...  labelled images per class (default 1,5,10,25,100); larger than a pool: skipped
//   --seeds N             seeds per budget (default 3)
//   --quick               one set (the first of --sets, else fashion-mnist), budgets 1,10, one seed;
//                         explicit --budgets / --seeds still win
//   --parts default,scratch,probe   which of the three to run (default all)
//   --cuts a,b            probe cuts (default block_12 … block_16, out_relu)
//   --data DIR            built sets (default bench/.data/accuracy)
//   --results FILE        JSON out (default bench/.data/accuracy-results.json)
//   --child-timeout S     kill a `graft train` child after S seconds (default: no limit)
//   --graft-home DIR      GRAFT_HOME for the `graft train` children (default: the user's own, as a
//                         user's runs would share it; its feature cache makes repeated images cheap —
//                         graft.json's training.backboneRuns, recorded here, says how many ran)
//   --build               run `npx tsc -p tsconfig.json` first when dist/ is older than src/
//   --allow-stale-dist    run bin/graft.js even when dist/ is older than src/
//   --keep                keep the temporary folder (manifests, models, feature matrices, logs)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { machineInfo } from './lib/machine.js';
import { markdownTable } from './lib/table.js';
import { REPO, DEFAULT_CUTS, BACKBONE, WEIGHTS, PYTHON, type Args, shuffled, mean, sd, pct, secs, writeManifest, checkDist, type SetInfo, type Img, listSplit, type GraftRun, graftTrain, type ProbeRun, writeFeatures, probe, features } from './lib/accuracy-parts.js';

function parseArgs(argv: string[]): Args {
  const a: Args = {
    budgets: [1, 5, 10, 25, 100],
    seeds: 3,
    quick: false,
    parts: new Set(['default', 'scratch', 'probe']),
    cuts: DEFAULT_CUTS,
    data: path.join(REPO, 'bench/.data/accuracy'),
    results: path.join(REPO, 'bench/.data/accuracy-results.json'),
    childTimeout: 0,
    build: false,
    allowStale: false,
    keep: false,
  };
  let budgets: number[] | undefined;
  let seeds: number | undefined;
  const ints = (s: string | undefined, what: string) => {
    const v = (s ?? '').split(',').filter(Boolean).map(Number);
    if (v.length === 0 || v.some((x) => !Number.isInteger(x) || x < 1)) throw new Error(`${what} needs positive integers, e.g. 1,5,10. Received: ${s}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => argv[++i];
    if (k === '--sets') a.sets = (v() ?? '').split(',').filter(Boolean);
    else if (k === '--budgets') budgets = ints(v(), '--budgets');
    else if (k === '--seeds') seeds = ints(v(), '--seeds')[0];
    else if (k === '--quick') a.quick = true;
    else if (k === '--parts') {
      const p = (v() ?? '').split(',').filter(Boolean);
      const bad = p.filter((x) => !['default', 'scratch', 'probe'].includes(x));
      if (bad.length || p.length === 0) throw new Error(`--parts takes default,scratch,probe. Received: ${p.join(',')}`);
      a.parts = new Set(p as ('default' | 'scratch' | 'probe')[]);
    } else if (k === '--cuts') a.cuts = (v() ?? '').split(',').filter(Boolean);
    else if (k === '--data') a.data = path.resolve(v()!);
    else if (k === '--results') a.results = path.resolve(v()!);
    else if (k === '--child-timeout') a.childTimeout = ints(v(), '--child-timeout')[0]!;
    else if (k === '--graft-home') a.graftHome = path.resolve(v()!);
    else if (k === '--build') a.build = true;
    else if (k === '--allow-stale-dist') a.allowStale = true;
    else if (k === '--keep') a.keep = true;
    else throw new Error(`Unknown option ${k}. See the comment at the top of bench/accuracy.ts.`);
  }
  if (a.quick) {
    a.sets = [a.sets?.[0] ?? 'fashion-mnist'];
    a.budgets = budgets ?? [1, 10];
    a.seeds = seeds ?? 1;
  } else {
    a.budgets = budgets ?? a.budgets;
    a.seeds = seeds ?? a.seeds;
  }
  return a;
}

// ---------------------------------------------------------------- the run

interface RunRecord {
  budget: number;
  seed: number;
  trainImages: number;
  default?: GraftRun;
  scratch?: GraftRun;
  probe: Record<string, ProbeRun>;
}

interface SetRecord {
  info: SetInfo;
  notes: string[];
  runs: RunRecord[];
  extraction: Record<string, { seconds: number; computed: number; images: number; skipped: number; dim: number }>;
}

function summaryLine(g: GraftRun): string {
  if (!g.ok) return `FAILED in ${g.seconds.toFixed(1)} s — ${g.error}`;
  const stages = Array.isArray(g.stages) ? g.stages.map((s) => { const o = s as Record<string, unknown>; return `${o.stage}${o.epochs !== undefined ? `×${o.epochs}` : ''}`; }).join(' → ') : '';
  return `${(100 * g.accuracy!).toFixed(1)}% on ${g.split} in ${g.seconds.toFixed(1)} s; cut ${g.cut ?? '?'}, head ${g.head ?? '?'}${stages ? `, stages ${stages}` : ''}${g.settings ? `; ${JSON.stringify(g.settings)}` : ''}`;
}

function tableFor(s: SetRecord, budgets: number[]): string {
  const rows: string[][] = [];
  for (const b of budgets) {
    const runs = s.runs.filter((r) => r.budget === b);
    if (runs.length === 0) continue;
    const def = runs.map((r) => r.default).filter((g): g is GraftRun => !!g?.ok);
    const scr = runs.map((r) => r.scratch).filter((g): g is GraftRun => !!g?.ok);
    const chosen = [...new Set(def.map((g) => g.cut ?? '?'))].join('/');
    const heads = [...new Set(def.map((g) => g.head ?? '?'))].join('/');
    const atChosen = runs.flatMap((r) => (r.default?.ok && r.default.cut && r.probe[r.default.cut]?.ok ? [r.probe[r.default.cut]!] : []));
    const cuts = [...new Set(runs.flatMap((r) => Object.keys(r.probe)))];
    let oracle: { cut: string; accs: number[] } | undefined;
    // The oracle is the best *single* cut (a concatenation Graft chose is not a candidate of it).
    for (const c of cuts.filter((x) => !x.includes('+'))) {
      const ok = runs.map((r) => r.probe[c]).filter((p): p is ProbeRun => !!p?.ok);
      if (ok.length !== runs.length) continue;
      const accs = ok.map((p) => p.testAccuracy!);
      if (!oracle || mean(accs) > mean(oracle.accs)) oracle = { cut: c, accs };
    }
    const oracleSecs = runs.map((r) => Object.values(r.probe).reduce((t, p) => t + p.wallSeconds, 0));
    const failed = (xs: (GraftRun | undefined)[]) => { const n = xs.filter((g) => g && !g.ok).length; return n ? ` (${n} failed)` : ''; };
    rows.push([
      String(b),
      def.length || runs.some((r) => r.default) ? `${pct(def.map((g) => g.accuracy!))} (${chosen || '–'}, ${heads || '–'})${failed(runs.map((r) => r.default))}` : '–',
      atChosen.length ? `${pct(atChosen.map((p) => p.testAccuracy!))}` : '–',
      oracle ? `${pct(oracle.accs)} (${oracle.cut})` : '–',
      scr.length || runs.some((r) => r.scratch) ? `${pct(scr.map((g) => g.accuracy!))}${failed(runs.map((r) => r.scratch))}` : '–',
      secs(def.map((g) => g.seconds)),
      secs(atChosen.map((p) => p.wallSeconds)),
      Object.keys(runs[0]!.probe).length ? secs(oracleSecs) : '–',
      secs(scr.map((g) => g.seconds)),
    ]);
  }
  const header = ['budget/class', 'default Graft % (cut, head)', 'probe at Graft cut %', 'oracle probe % (cut)', 'from scratch %', 'default s', 'probe s', 'all-cut probes s', 'scratch s'];
  return markdownTable(header, rows);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const index = path.join(a.data, 'sets.json');
  if (!fs.existsSync(index)) throw new Error(`${index} not found: build the sets first with node scripts/build-accuracy-data.mjs`);
  const all = JSON.parse(fs.readFileSync(index, 'utf8')) as Record<string, SetInfo>;
  const names = a.sets ?? Object.keys(all);
  const unknown = names.filter((n) => !all[n]);
  if (unknown.length) throw new Error(`Set(s) not built: ${unknown.join(', ')}. Built: ${Object.keys(all).join(', ') || 'none'}. Build with node scripts/build-accuracy-data.mjs --sets ${unknown.join(',')}`);
  if (a.parts.has('default') || a.parts.has('scratch')) checkDist(a);
  if (a.parts.has('probe') && !fs.existsSync(PYTHON)) throw new Error(`${PYTHON} missing: apt-get install -y --no-install-recommends python3-numpy python3-sklearn python3-threadpoolctl`);

  const cacheDir = path.join(REPO, 'bench/.data/cache');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'graft-accuracy-'));
  const machine = { ...machineInfo(), command: ['npm run bench:accuracy', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ') };
  const out = { machine, args: { ...a, parts: [...a.parts] }, backbone: { name: BACKBONE, weights: WEIGHTS, pooling: 'avg' }, tmp, sets: {} as Record<string, SetRecord> };
  const save = () => (fs.mkdirSync(path.dirname(a.results), { recursive: true }), fs.writeFileSync(a.results, JSON.stringify(out, null, 2) + '\n'));
  console.log(`bench:accuracy — sets ${names.join(', ')}; budgets ${a.budgets.join(',')}; ${a.seeds} seed(s); parts ${[...a.parts].join(',')}; temp ${tmp}`);

  try {
    for (const name of names) {
      const info = all[name]!;
      const root = path.join(a.data, name);
      const pool = listSplit(root, 'pool', info.classes);
      const test = listSplit(root, 'test', info.classes).flat();
      const rec: SetRecord = { info, notes: [], runs: [], extraction: {} };
      out.sets[name] = rec;
      const minPool = Math.min(...pool.map((p) => p.length));
      const budgets = a.budgets.filter((b) => {
        if (b <= minPool) return true;
        const note = `budget ${b} skipped: the smallest class pool (${info.classes[pool.findIndex((p) => p.length === minPool)]}) has ${minPool} images`;
        rec.notes.push(note);
        console.log(`[${name}] ${note}`);
        return false;
      });
      const dir = path.join(tmp, name);
      fs.mkdirSync(dir, { recursive: true });
      const testManifest = path.join(dir, 'test.csv');
      writeManifest(testManifest, test);
      console.log(`\n## ${name} (${info.package} ${info.version}): ${info.classes.length} classes, ${test.length} test images, ${info.size}`);

      // Seeded per-class order of each pool; a budget takes its first b images (nested budgets).
      const samples: { budget: number; seed: number; items: Img[] }[] = [];
      for (const b of budgets) {
        for (let s = 0; s < a.seeds; s++) samples.push({ budget: b, seed: s, items: pool.flatMap((p, c) => shuffled(p, `${name}:seed${s}:class${c}`).slice(0, b)) });
      }

      for (const smp of samples) {
        const tag = `b${smp.budget}-s${smp.seed}`;
        const manifest = path.join(dir, `${tag}.csv`);
        writeManifest(manifest, smp.items);
        const run: RunRecord = { budget: smp.budget, seed: smp.seed, trainImages: smp.items.length, probe: {} };
        rec.runs.push(run);
        if (a.parts.has('default')) {
          run.default = await graftTrain(manifest, testManifest, path.join(dir, `${tag}-default`), [], a);
          console.log(`[${name} ${tag}] default: ${summaryLine(run.default)}`);
          save();
        }
        if (a.parts.has('scratch')) {
          run.scratch = await graftTrain(manifest, testManifest, path.join(dir, `${tag}-scratch`), ['--weights', 'none'], a);
          console.log(`[${name} ${tag}] from scratch: ${summaryLine(run.scratch)}`);
          save();
        }
      }

      if (a.parts.has('probe') && samples.length > 0) {
        // Every image any sample uses, plus the test set: each goes through the backbone once per cut.
        const used = new Map<string, Img>();
        for (const it of [...test, ...samples.flatMap((s) => s.items)]) used.set(it.path, it);
        const chosen = rec.runs.flatMap((r) => (r.default?.ok && r.default.cut ? [r.default.cut] : []));
        const cuts = [...new Set([...a.cuts, ...chosen])];
        for (const cut of cuts) {
          let f: Awaited<ReturnType<typeof features>>;
          try {
            f = await features(cut, [...used.values()], cacheDir);
          } catch (e) {
            const msg = `features at ${cut} failed: ${(e as Error).message.split('\n')[0]}`;
            rec.notes.push(msg);
            console.log(`[${name}] ${msg}`);
            continue;
          }
          rec.extraction[cut] = { seconds: f.seconds, computed: f.computed, images: used.size, skipped: f.skipped, dim: f.dim };
          console.log(`[${name}] features at ${cut}: ${f.dim}-d, ${f.computed}/${used.size} images computed (rest cached) in ${f.seconds.toFixed(1)} s`);
          const matrix = (imgs: Img[]) => {
            const kept = imgs.filter((i) => f.rows.has(i.path));
            const data = new Float32Array(kept.length * f.dim);
            kept.forEach((i, k) => data.set(f.rows.get(i.path)!, k * f.dim));
            return { kept, data };
          };
          const testStem = path.join(dir, `test-${cut}`);
          const t = matrix(test);
          writeFeatures(testStem, t.data, f.dim, t.kept.map((i) => i.label), info.classes, t.kept.map((i) => i.path));
          for (const smp of samples) {
            const tag = `b${smp.budget}-s${smp.seed}`;
            const stem = path.join(dir, `${tag}-${cut}`);
            const m = matrix(smp.items);
            writeFeatures(stem, m.data, f.dim, m.kept.map((i) => i.label), info.classes, m.kept.map((i) => i.path));
            const p = await probe(stem, testStem, `${stem}.probe.log`);
            rec.runs.find((r) => r.budget === smp.budget && r.seed === smp.seed)!.probe[cut] = p;
            console.log(`[${name} ${tag}] probe at ${cut}: ${p.ok ? `${(100 * p.testAccuracy!).toFixed(1)}% (C=${p.C}, ${p.folds}-fold CV ${p.cvAccuracy == null ? '–' : (100 * p.cvAccuracy).toFixed(1)}%, fit ${p.seconds} s, wall ${p.wallSeconds.toFixed(1)} s)${p.note ? ` — ${p.note}` : ''}` : `FAILED — ${p.error}`}`);
          }
          save();
        }
      }

      console.log(`\n### ${name}: test accuracy, % (mean ± sd over ${a.seeds} seed(s)); wall seconds per run\n`);
      console.log(tableFor(rec, budgets));
      for (const n of rec.notes) console.log(`- ${n}`);
      const ext = Object.entries(rec.extraction);
      if (ext.length) console.log(`- feature extraction (once per cut, shared by all budgets/seeds): ${ext.map(([c, e]) => `${c} ${e.seconds.toFixed(1)} s`).join(', ')}`);
      save();
    }
  } finally {
    save();
    if (!a.keep) fs.rmSync(tmp, { recursive: true, force: true });
    else console.log(`kept ${tmp}`);
  }
  console.log(`\nresults: ${path.relative(process.cwd(), a.results)}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
