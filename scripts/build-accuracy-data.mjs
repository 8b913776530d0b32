#!/usr/bin/env node
// Debian packages this script reads (install once, as root):
//   apt-get update && apt-get install -y --no-install-recommends dataset-fashion-mnist python3-sklearn opencv-doc tuxpaint-stamps-default
// (bench/peers/probe.py also needs: apt-get install -y --no-install-recommends python3-numpy python3-sklearn python3-threadpoolctl)
//
// Builds the real image sets of `npm run bench:accuracy`, none of which Graft's tests use:
//   OUT/<set>/pool/<class>/<n>.png   up to 100 per class: training budgets are sampled from here
//   OUT/<set>/test/<class>/<n>.png   a fixed, class-balanced test set (50 per class; 20 for tuxpaint-stamps)
//   OUT/<set>/files.csv              split,class,file,source: where each image came from
//   OUT/sets.json                    classes and counts per set (read by bench/accuracy.ts)
//   OUT/SOURCES.md                   package, version, licence and processing of each set
// The split is fixed by --seed (default 20261201): same packages + same seed = same files.
//
// Usage:
//   node scripts/build-accuracy-data.mjs                      # all sets into bench/.data/accuracy
//   node scripts/build-accuracy-data.mjs --sets uci-digits,tuxpaint-stamps --out /tmp/acc --clean
//   node scripts/build-accuracy-data.mjs --dev                # development sets (images the benchmark never uses) into bench/.data/accuracy-dev
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fashionMnist, uciDigits, opencvMnist, tuxpaintStamps, debVersion, MissingSource, TUXPAINT_SIZE } from './accuracy-sources.mjs';
import { rngFromKey as rng } from './lib/prng.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_OUT = path.join(REPO, 'bench/.data/accuracy');
export const DEFAULT_SEED = 20261201;
const POOL = 100;

/** Each set: its Debian package, licence (from /usr/share/doc/<pkg>/copyright), reader and split sizes. */
export const SETS = {
  'fashion-mnist': {
    pkg: 'dataset-fashion-mnist',
    licence: 'MIT (Expat), Copyright 2017 Zalando SE — /usr/share/doc/dataset-fashion-mnist/copyright',
    what: 'Fashion-MNIST (Zalando Research): 28×28 greyscale photos of clothing and accessories, 10 classes.',
    processing: 'IDX files read from /usr/share/datasets/fashion-mnist; the pool is a seeded sample of 100 per class from the official training split, the test set 50 per class from the official test split (t10k); written unchanged as 28×28 greyscale PNG.',
    test: 50,
    read: () => fashionMnist(),
  },
  'uci-digits': {
    pkg: 'python3-sklearn',
    licence:
      'BSD-3-Clause as part of scikit-learn (/usr/share/doc/python3-sklearn/copyright, Files: *). The data are the test set of the UCI "Optical Recognition of Handwritten Digits" data set (E. Alpaydin, C. Kaynak, 1998), which UCI distributes under CC BY 4.0; cite it when publishing results.',
    what: 'Scans of handwritten digits by 43 writers, reduced by NIST preprocessing to 8×8 cells of ink counts (0..16), 10 classes (1,797 images, 174–183 per class).',
    processing: 'sklearn/datasets/data/digits.csv.gz read row by row; ink counts scaled to 0..255 (round(v·255/16)) and written as 8×8 greyscale PNG (white ink on black, as in the source). Per class, a seeded shuffle: the first 50 go to test, the next 100 to the pool.',
    test: 50,
    read: () => uciDigits(),
  },
  'mnist-opencv': {
    pkg: 'opencv-doc',
    licence:
      'Shipped in OpenCV\'s samples under Apache-2.0 AND BSD-3-Clause (/usr/share/doc/opencv-doc/copyright, Files: *). The digits are a 5,000-image subset of MNIST (Y. LeCun, C. Cortes, C. Burges), whose site states CC BY-SA 3.0.',
    what: 'OpenCV\'s samples/data/digits.png: 5,000 MNIST handwritten digits, 20×20 greyscale, 500 per class, 10 classes.',
    processing: '/usr/share/doc/opencv-doc/examples/data/digits.png cut into its 100×50 grid of 20×20 tiles; tile row r holds digit floor(r/5), as OpenCV\'s samples/python/digits.py reads it. Written unchanged as 20×20 greyscale PNG. Per class, a seeded shuffle: first 50 to test, next 100 to the pool.',
    test: 50,
    read: () => opencvMnist(),
  },
  'tuxpaint-stamps': {
    pkg: 'tuxpaint-stamps-default',
    licence: 'GPL-2+ (Copyright 2002-2022 Bill Kendrick and contributors — /usr/share/doc/tuxpaint-stamps-default/copyright)',
    what: 'Tux Paint\'s stamp library by top-level category: 6 classes (animals, clothes, food, household, town, vehicles), 48–154 images per class; most animals, food and many household stamps are photo cut-outs, the rest clip art.',
    processing: `Every .png under /usr/share/tuxpaint/stamps/<class>/ (recursively), and every .svg that has no .png of the same name (rasterised at 150 dpi by sharp/librsvg); flattened on white and fitted, aspect kept, into a white ${TUXPAINT_SIZE}×${TUXPAINT_SIZE} RGB square. Left out: categories with fewer than 48 images (plants, people, space, hobbies, sports, …), symbols (letters, signs, money: mostly renders of text) and seasonal (holiday objects that overlap the other classes). Per class, a seeded shuffle: first 20 to test (the smallest class has 48), the rest, up to 100, to the pool — so pools hold 28–100 images and a budget above a class's pool is skipped by the harness. Some stamps are variants of one subject (frog, frog-1): they can fall on both sides of the split.`,
    test: 20,
    read: () => tuxpaintStamps(),
  },
};

/**
 * Development sets (--dev): images the benchmark sets above never use, for choosing between
 * selection rules without looking at the benchmark's test images. Fashion-MNIST and OpenCV's
 * MNIST take the next slices of the same seeded shuffles (disjoint from every benchmark image);
 * Tux Paint's dev set is four other stamp categories. UCI digits has too few images left over.
 */
export const DEV_SETS = {
  'fashion-mnist': { ...SETS['fashion-mnist'], offset: { test: 50, pool: POOL } },
  'mnist-opencv': { ...SETS['mnist-opencv'], offset: { all: 50 + POOL } },
  // 300 per class, for judging the default's fine-tune trial (tried from 1,000 labelled images).
  'fashion-mnist-3000': { ...SETS['fashion-mnist'], key: 'fashion-mnist', offset: { test: 50, pool: 2 * POOL }, poolSize: 3 * POOL },
  'tuxpaint-other': {
    ...SETS['tuxpaint-stamps'],
    what: 'Tux Paint stamp categories the benchmark set leaves out: plants, people, space, seasonal (23–77 images each).',
    processing: 'As tuxpaint-stamps (flattened on white, fitted into 224×224); per class a seeded shuffle: first 8 to test, the rest to the pool.',
    test: 8,
    read: () => tuxpaintStamps(undefined, ['plants', 'people', 'space', 'seasonal']),
  },
};


function shuffled(list, key) {
  const r = rng(key);
  const a = list.slice();
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const byClass = (items, k) => Array.from({ length: k }, (_, c) => items.filter((it) => it.label === c));

async function writeImages(jobs) {
  for (let s = 0; s < jobs.length; s += 32) {
    await Promise.all(
      jobs.slice(s, s + 32).map(async (j) => {
        fs.mkdirSync(path.dirname(j.file), { recursive: true });
        await (await j.item.image()).png({ compressionLevel: 9 }).toFile(j.file);
      }),
    );
  }
}

/** Build one set under out/<name>. Returns its summary for sets.json. */
export async function buildSet(name, { out = DEFAULT_OUT, seed = DEFAULT_SEED, dev = false } = {}) {
  const sets = dev ? DEV_SETS : SETS;
  const def = sets[name];
  if (!def) throw new Error(`Unknown set ${name}. Valid: ${Object.keys(sets).join(', ')}`);
  // A dev set of a benchmark set shares its name (or key), so its shuffles are the benchmark's and it takes later slices.
  const key = def.key ?? name;
  const off = def.offset ?? {};
  const src = await def.read();
  const dir = path.join(out, name);
  fs.rmSync(dir, { recursive: true, force: true }); // always rebuilt whole: no stale files from another seed
  const k = src.classes.length;
  const poolBy = byClass(src.pool, k);
  const testBy = src.test ? byClass(src.test, k) : undefined;
  const jobs = [];
  const rows = ['split,class,file,source'];
  const counts = { pool: [], test: [] };
  const available = [];
  for (let c = 0; c < k; c++) {
    const cls = src.classes[c];
    let test;
    let pool;
    if (testBy) {
      const t0 = off.test ?? 0;
      const p0 = off.pool ?? 0;
      test = shuffled(testBy[c], `${seed}:${key}:test:${c}`).slice(t0, t0 + def.test);
      pool = shuffled(poolBy[c], `${seed}:${key}:pool:${c}`).slice(p0, p0 + (def.poolSize ?? POOL));
    } else {
      const a0 = off.all ?? 0;
      const all = shuffled(poolBy[c], `${seed}:${key}:${c}`).slice(a0);
      if (all.length < def.test + 1) throw new Error(`${name}: class ${cls} has ${all.length} images, fewer than ${def.test} test + 1`);
      test = all.slice(0, def.test);
      pool = all.slice(def.test, def.test + POOL);
    }
    available.push(poolBy[c].length + (testBy ? testBy[c].length : 0));
    for (const [split, list] of [['pool', pool], ['test', test]]) {
      counts[split].push(list.length);
      list.forEach((item, n) => {
        const rel = `${split}/${cls}/${String(n).padStart(3, '0')}.png`;
        jobs.push({ item, file: path.join(dir, rel) });
        rows.push(`${split},${cls},${rel},"${item.source.replaceAll('"', '""')}"`);
      });
    }
  }
  await writeImages(jobs);
  fs.writeFileSync(path.join(dir, 'files.csv'), rows.join('\n') + '\n');
  const first = jobs[0] ? await (await jobs[0].item.image()).metadata() : {};
  return { name, package: def.pkg, version: debVersion(def.pkg) ?? 'not installed via dpkg', classes: src.classes, pool: counts.pool, test: counts.test, available, size: `${first.width}×${first.height}`, seed };
}

function sourcesMd(summaries, seed, sets = SETS) {
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  const parts = [
    '# Accuracy benchmark data: sources',
    '',
    `Built by \`node scripts/build-accuracy-data.mjs\` (seed ${seed}) from Debian packages; nothing is downloaded.`,
    'Layout: `<set>/pool/<class>/<n>.png` (training budgets are sampled from the pool), `<set>/test/<class>/<n>.png` (fixed test set), `<set>/files.csv` (where each file came from).',
    'These images are not redistributed with Graft: rebuild them from the packages with the command above.',
    '',
    '| set | Debian package | version | classes | pool per class | test per class | image size |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...summaries.map((s) => `| ${s.name} | \`${s.package}\` | ${s.version} | ${s.classes.length} | ${Math.min(...s.pool)}–${Math.max(...s.pool)} (${sum(s.pool)}) | ${Math.min(...s.test)}–${Math.max(...s.test)} (${sum(s.test)}) | ${s.size} |`),
    '',
  ];
  for (const s of summaries) {
    const d = sets[s.name];
    parts.push(`## ${s.name}`, '', `- Package: \`${s.package}\` ${s.version}`, `- Licence: ${d.licence}`, `- What: ${d.what}`, `- Classes: ${s.classes.join(', ')}`, `- Images in the source per class: ${s.available.join(', ')}`, `- Done to the images: ${d.processing}`, '');
  }
  return parts.join('\n');
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') o.out = path.resolve(argv[++i]);
    else if (a === '--sets') o.sets = argv[++i].split(',').filter(Boolean);
    else if (a === '--seed') o.seed = Number(argv[++i]);
    else if (a === '--clean') o.clean = true;
    else if (a === '--dev') o.dev = true;
    else throw new Error(`Unknown option ${a}. Valid: --out DIR --sets ${Object.keys(SETS).join(',')} --seed N --clean --dev`);
  }
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const o = parseArgs(process.argv.slice(2));
  const sets = o.dev ? DEV_SETS : SETS;
  const out = o.out ?? (o.dev ? DEFAULT_OUT + '-dev' : DEFAULT_OUT);
  const seed = o.seed ?? DEFAULT_SEED;
  const names = o.sets ?? Object.keys(sets);
  const unknown = names.filter((n) => !sets[n]);
  if (unknown.length > 0) {
    console.error(`Unknown set(s): ${unknown.join(', ')}. Valid: ${Object.keys(sets).join(', ')}`);
    process.exit(2);
  }
  fs.mkdirSync(out, { recursive: true });
  if (o.clean) for (const n of Object.keys(sets)) if (!o.sets || names.includes(n)) fs.rmSync(path.join(out, n), { recursive: true, force: true });
  // sets.json keeps the summaries of sets built earlier into the same folder.
  const indexFile = path.join(out, 'sets.json');
  const index = fs.existsSync(indexFile) ? JSON.parse(fs.readFileSync(indexFile, 'utf8')) : {};
  const missing = [];
  for (const n of names) {
    const t0 = Date.now();
    try {
      const s = await buildSet(n, { out, seed, dev: o.dev });
      index[n] = s;
      const sum = (a) => a.reduce((x, y) => x + y, 0);
      console.log(`${n}: ${s.classes.length} classes, ${sum(s.pool)} pool + ${sum(s.test)} test images (${s.size}) from ${s.package} ${s.version} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      if (!(e instanceof MissingSource)) throw e;
      console.error(`SKIPPED ${e.message}`);
      missing.push(e.pkg);
    }
  }
  const built = Object.keys(sets).filter((n) => index[n] && fs.existsSync(path.join(out, n)));
  for (const n of Object.keys(index)) if (!built.includes(n)) delete index[n];
  fs.writeFileSync(indexFile, JSON.stringify(index, null, 2) + '\n');
  fs.writeFileSync(path.join(out, 'SOURCES.md'), sourcesMd(built.map((n) => index[n]), seed, sets));
  console.log(`wrote ${out} (${built.join(', ') || 'no sets'}); see ${path.join(out, 'SOURCES.md')}`);
  if (missing.length > 0) {
    console.error(`Missing Debian package(s): apt-get install -y --no-install-recommends ${[...new Set(missing)].join(' ')}`);
    process.exitCode = 1;
  }
}
