import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as graft from '../src/index.js';

// The public surface of `import … from 'graft'`, sorted. Changing it is a deliberate act: add or
// remove a name here in the same change as in src/index.ts (types are not listed: they have no
// runtime name). Helpers used only inside Graft stay out; import them from their own modules.
const PUBLIC_NAMES = [
  'ADAPT_METHODS',
  'BatchLoader',
  'Classifier',
  'DEFAULTS',
  'DEFAULT_AUGMENT',
  'ERROR_CODES',
  'FeatureCache',
  'FrozenBackbone',
  'GraftError',
  'IMAGENET_CLASSES',
  'IMAGENET_WEIGHTS',
  'NSFW_CLASSES',
  'Rng',
  'SERVE_DEFAULTS',
  'adaBn',
  'adaptModel',
  'addHead',
  'applyWeights',
  'augmentPixels',
  'buildHeadModel',
  'buildModel',
  'buildTransferModel',
  'callbackFromFns',
  'checkpoint',
  'constant',
  'coralFold',
  'cosine',
  'createModel',
  'createOrtEngine',
  'createServer',
  'createStudio',
  'createTfjsEngine',
  'cutModel',
  'dann',
  'decodeImage',
  'decodePredictions',
  'domainClassifierAccuracy',
  'earlyStopping',
  'embedImages',
  'env',
  'evaluateModelDir',
  'evaluateProbs',
  'exportModelDir',
  'exportOnnx',
  'fetchWeights',
  'fewShotHead',
  'fileLoadHandler',
  'fileSaveHandler',
  'findLearningRate',
  'fit',
  'freeze',
  'getModelSpec',
  'headOnlyModel',
  'imagenetWeightFile',
  'initTf',
  'isGraftError',
  'isGraftModelDir',
  'jsonlLogger',
  'knnHead',
  'learningCurve',
  'listModels',
  'loadDataset',
  'loadImageFolder',
  'loadKerasWeightsByName',
  'loadManifest',
  'loadModelDir',
  'loadSplits',
  'loadTfjsWeightsByName',
  'loadWeightsByName',
  'lrFind',
  'lrFindSvg',
  'manifestSchema',
  'mmdPermutationTest',
  'oneCycle',
  'parseTrainOptions',
  'preprocess',
  'progressBar',
  'prototypeHead',
  'pseudoLabel',
  'readKerasH5',
  'readManifest',
  'recomputeBatchNormStats',
  'refreshEnv',
  'registerModel',
  'renderReport',
  'resolveCut',
  'saveModelAsKerasH5',
  'saveModelDir',
  'setBatchNormInference',
  'shiftReport',
  'splitAt',
  'stratifiedSplit',
  'trainClassifier',
  'trainOptionsSchema',
  'trainableLayerNames',
  'unfreezeTopBlocks',
  'writeKerasH5',
];

test('src/index.ts exports exactly the committed public names', () => {
  const names = Object.keys(graft).sort();
  assert.deepEqual(names, [...PUBLIC_NAMES].sort(), 'the public surface changed: update PUBLIC_NAMES in test/index.test.ts if that was intended');
  assert.deepEqual(PUBLIC_NAMES, [...PUBLIC_NAMES].sort(), 'keep PUBLIC_NAMES sorted');
});

test('every public name is defined (no export of a missing binding)', () => {
  for (const [name, value] of Object.entries(graft)) assert.notEqual(value, undefined, name);
});

test("every name the README's library examples import from 'graft' is public", () => {
  const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const imported = [...readme.matchAll(/import\s*\{([^}]*)\}\s*from\s*'graft'/g)].flatMap((m) =>
    m[1]!.split(',').map((s) => s.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!).filter(Boolean),
  );
  assert.ok(imported.includes('trainClassifier'), 'found the README example');
  for (const n of imported) assert.ok(n in graft, `README imports ${n} from 'graft'`);
});

test("the README's library example runs as written (no initTf() needed before createModel)", async () => {
  const { spawnSync } = await import('node:child_process');
  const os = await import('node:os');
  const readme = fs.readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)![1]!;
  // Up to clf.summary(): the trainClassifier line below it needs the user's photos/ folder.
  const upTo = block.slice(0, block.indexOf('clf.summary();') + 'clf.summary();'.length);
  assert.ok(upTo.includes("from 'graft'"));
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'graft-readme-')), 'example.mts');
  fs.writeFileSync(file, upTo.replace("from 'graft'", `from ${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))}`));
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)), maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /graft_head_predictions/);
});
