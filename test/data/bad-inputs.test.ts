import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { loadImageFolder, loadDataset } from '../../src/data/dataset.js';
import { expandInputs } from '../../src/data/inputs.js';
import { trainClassifier } from '../../src/workflow/train.js';
import { Classifier } from '../../src/workflow/predict.js';
import { loadModelDir } from '../../src/io/model-dir.js';
import { isGraftError } from '../../src/errors.js';
import { makeDataset, tmpDir } from '../workflow/fixtures.js';

// A corpus of awkward inputs, made here (nothing binary committed): each must end in a clear
// error or a skip that names the file and the reason — never a stack trace, a hang or a wrong result.

const ds = makeDataset({ classes: ['Trouser', 'Bag'], perClass: 6, test: 2 });
const odd = path.join(ds.train, 'Bag');
fs.symlinkSync(path.join(odd, 'missing-target.png'), path.join(odd, 'dangling.png'));
execFileSync('mkfifo', [path.join(odd, 'pipe.jpg')]);
fs.writeFileSync(path.join(odd, 'vector.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
fs.writeFileSync(path.join(odd, 'old.bmp'), Buffer.from('BM'));
fs.mkdirSync(path.join(odd, 'folder.jpg'));

const code = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
    return undefined;
  } catch (e) {
    assert.ok(isGraftError(e), `expected a GraftError, got: ${(e as Error).stack}`);
    return e.code;
  }
};

test('a class folder with a dangling link, a FIFO, .svg/.bmp and a folder named like an image: each skipped with its reason', () => {
  const d = loadImageFolder(ds.train);
  const why = new Map(d.skipped.map((s) => [path.basename(s.path), s.reason]));
  assert.match(why.get('dangling.png') ?? '', /dangling symbolic link/);
  assert.match(why.get('pipe.jpg') ?? '', /not a regular file/);
  assert.match(why.get('vector.svg') ?? '', /unsupported image format \.svg/);
  assert.match(why.get('old.bmp') ?? '', /unsupported image format \.bmp/);
  assert.equal(d.items.length, 12, 'the real images are all kept');
});

test('predict/embed folder expansion names every entry it will not read (and never opens the FIFO)', () => {
  const r = expandInputs([odd, path.join(odd, 'nope.png')]);
  const why = new Map(r.skipped.map((s) => [path.basename(s.path), s.reason]));
  for (const name of ['dangling.png', 'pipe.jpg', 'vector.svg', 'old.bmp']) assert.ok(why.has(name), `${name} reported`);
  assert.deepEqual(r.missing, [path.join(odd, 'nope.png')]);
  assert.equal(r.images.length, 6);
});

test('manifest entries outside the manifest\'s folder (climbing out, or absolute elsewhere) are refused unless allowed', async () => {
  const dir = tmpDir('graft-manifest-');
  const f = path.join(dir, 'm.csv');
  fs.writeFileSync(f, 'path,label\n../../../../etc/passwd,a\nx.png,b\n');
  assert.equal(await code(Promise.resolve().then(() => loadDataset(f))), 'E_DATA_MANIFEST_OUTSIDE');
  const img = path.join(ds.train, 'Trouser', fs.readdirSync(path.join(ds.train, 'Trouser')).find((n) => n.endsWith('.png'))!);
  fs.writeFileSync(f, `path,label\n${img},a\n`);
  assert.equal(await code(Promise.resolve().then(() => loadDataset(f, { minClasses: 1 }))), 'E_DATA_MANIFEST_OUTSIDE');
  assert.equal(loadDataset(f, { minClasses: 1, allowOutside: true }).items.length, 1);
  // Inside the folder, absolute or relative, is fine.
  fs.copyFileSync(img, path.join(dir, 'in.png'));
  fs.writeFileSync(f, `path,label\n${path.join(dir, 'in.png')},a\nin.png,b\n`);
  assert.equal(loadDataset(f, { minClasses: 1 }).items.length, 2);
  // The flag reaches training: graft train --allow-outside.
  const { collectTrainOptions } = await import('../../src/cli/train.js');
  const { buildCli } = await import('../../src/cli/main.js');
  const cmd = buildCli().commands.find((c) => c.name() === 'train')!.exitOverride().action(() => {});
  cmd.parse(['m.csv', '--out', 'o', '--allow-outside'], { from: 'user' });
  assert.equal(collectTrainOptions('m.csv', cmd.opts()).allowOutside, true);
});

test('the same image under two classes is refused, listing both', async () => {
  const c = makeDataset({ classes: ['Trouser', 'Bag'], perClass: 4, test: 1 });
  const src = path.join(c.train, 'Trouser', fs.readdirSync(path.join(c.train, 'Trouser'))[0]!);
  fs.copyFileSync(src, path.join(c.train, 'Bag', 'copied-from-trouser.png'));
  let message = '';
  try {
    await trainClassifier({ data: c.root, out: path.join(tmpDir(), 'm'), inputSize: 96, quiet: true });
  } catch (e) {
    assert.ok(isGraftError(e));
    assert.equal(e.code, 'E_DATA_CONFLICTING_LABELS');
    message = e.message;
  }
  assert.match(message, /copied-from-trouser\.png \(Bag\)/);
  assert.match(message, /\(Trouser\)/);
});

test('a model directory whose graft.json disagrees with its network, or whose files are cut short, is one clear error', async () => {
  const cache = tmpDir('graft-bad-cache-');
  const out = path.join(tmpDir(), 'model');
  await trainClassifier({ data: ds.root, out, inputSize: 96, cacheDir: cache, quiet: true, report: false });
  const copy = (name: string) => {
    const d = path.join(tmpDir(), name);
    fs.cpSync(out, d, { recursive: true });
    return d;
  };
  // Three classes in graft.json for a two-output network.
  const three = copy('three');
  const m = JSON.parse(fs.readFileSync(path.join(three, 'graft.json'), 'utf8'));
  m.classes = [...m.classes, 'Ghost'];
  fs.writeFileSync(path.join(three, 'graft.json'), JSON.stringify(m));
  assert.equal(await code(Classifier.load(three)), 'E_MODEL_DIR_MISMATCH');
  assert.equal(await code(loadModelDir(three)), 'E_MODEL_DIR_MISMATCH');
  // An input size that the graph does not take.
  const size = copy('size');
  const m2 = JSON.parse(fs.readFileSync(path.join(size, 'graft.json'), 'utf8'));
  m2.inputSize = [64, 64];
  fs.writeFileSync(path.join(size, 'graft.json'), JSON.stringify(m2));
  assert.equal(await code(Classifier.load(size)), 'E_MODEL_DIR_MISMATCH');
  // Truncated files.
  const cut = copy('cut');
  for (const f of ['model.onnx', 'weights.bin']) fs.truncateSync(path.join(cut, f), Math.floor(fs.statSync(path.join(cut, f)).size / 3));
  assert.equal(await code(Classifier.load(cut)), 'E_MODEL_DIR_DAMAGED');
  assert.equal(await code(loadModelDir(cut)), 'E_MODEL_DIR_DAMAGED');
});

test('a loss that becomes non-finite stops training with the stage named, and no model is written', async () => {
  const out = path.join(tmpDir(), 'nan');
  let message = '';
  try {
    await trainClassifier({ data: ds.root, out, inputSize: 96, epochs: 3, lr: 1e38, optimizer: 'sgd', quiet: true });
  } catch (e) {
    assert.ok(isGraftError(e));
    assert.equal(e.code, 'E_NONFINITE_LOSS');
    message = e.message;
  }
  assert.match(message, /head stage/);
  assert.ok(!fs.existsSync(out), 'nothing written at --out');
});

test('a damaged compiled graph in the cache is compiled again, never used', async () => {
  const tf = await import('@tensorflow/tfjs');
  const { initTf } = await import('../../src/engine/tfjs/backend.js');
  const { FrozenBackbone } = await import('../../src/engine/ort.js');
  await initTf();
  const input = tf.input({ shape: [8, 8, 3] });
  const y = tf.layers.conv2d({ filters: 4, kernelSize: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as import('@tensorflow/tfjs').SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: y });
  const cacheDir = tmpDir('graft-onnx-cache-');
  const x = new Float32Array(8 * 8 * 3).map((_, i) => (i * 7) % 255);
  const a = await FrozenBackbone.fromLayersModel(model, { cacheDir });
  const ref = await a.run(x, 1);
  a.dispose();
  const file = fs.readdirSync(cacheDir).find((f) => f.endsWith('.onnx'))!;
  assert.ok(fs.existsSync(path.join(cacheDir, `${file}.sha256`)), 'a checksum travels with the entry');
  fs.truncateSync(path.join(cacheDir, file), 100);
  const b = await FrozenBackbone.fromLayersModel(model, { cacheDir });
  assert.deepEqual(Array.from(await b.run(x, 1)), Array.from(ref));
  b.dispose();
  // Changed bytes of the right length are caught by the checksum too.
  const bytes = fs.readFileSync(path.join(cacheDir, file));
  bytes[bytes.length - 5] ^= 0xff;
  fs.writeFileSync(path.join(cacheDir, file), bytes);
  const c = await FrozenBackbone.fromLayersModel(model, { cacheDir });
  assert.deepEqual(Array.from(await c.run(x, 1)), Array.from(ref));
  c.dispose();
});

test('a truncated Keras .h5 (or just its first 512 bytes) is one clear error naming the file', async () => {
  const tf = await import('@tensorflow/tfjs');
  const { initTf } = await import('../../src/engine/tfjs/backend.js');
  const { saveModelAsKerasH5, readKerasH5 } = await import('../../src/weights/keras-h5.js');
  await initTf();
  const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [64], units: 64, name: 'd1' }), tf.layers.dense({ units: 8, name: 'd2' })] });
  const file = path.join(tmpDir('graft-h5-'), 'w.h5');
  await saveModelAsKerasH5(m, file);
  const size = fs.statSync(file).size;
  for (const keep of [512, Math.floor(size / 2)]) {
    const cut = file.replace('.h5', `-${keep}.h5`);
    fs.writeFileSync(cut, fs.readFileSync(file).subarray(0, keep));
    let err: unknown;
    try {
      await readKerasH5(cut);
    } catch (e) {
      err = e;
    }
    assert.ok(isGraftError(err), `a GraftError for ${keep} bytes, got: ${(err as Error)?.stack ?? 'no error'}`);
    assert.equal(err.code, 'E_WEIGHTS_DAMAGED');
    assert.match(err.message, new RegExp(`${path.basename(cut).replace('.', '\\.')} is cut off: ${keep} of the ${size} bytes`));
    // Refused before HDF5 reads it: no page of HDF5-DIAG lines on the user's terminal.
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', `import { readKerasH5 } from ${JSON.stringify(path.resolve('src/weights/keras-h5.ts'))}; await readKerasH5(${JSON.stringify(cut)}).catch((e) => process.stdout.write(e.code));`], { encoding: 'utf8' });
    assert.equal(child.stdout, 'E_WEIGHTS_DAMAGED', child.stderr);
    assert.doesNotMatch(child.stderr, /HDF5-DIAG/);
  }
});

test('damaged images decoded at once are each reported with their own decoder\'s message, never another file\'s', async () => {
  const sharp = (await import('sharp')).default;
  const { decodeBytes } = await import('../../src/data/decode.js');
  const png = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#f00' } }).png().toBuffer();
  const jpg = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#0f0' } }).jpeg().toBuffer();
  const [halfPng, halfJpg] = [png.subarray(0, png.length >> 1), jpg.subarray(0, jpg.length >> 1)];
  const reasons: string[] = [];
  for (let round = 0; round < 25; round++) {
    const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => decodeBytes(i % 2 ? halfPng : halfJpg, i % 2 ? 'half.png' : 'half.jpg', { size: [64, 64] })));
    for (const r of rs) {
      assert.ok(!r.ok);
      reasons.push(`${r.path}: ${r.reason}`);
    }
  }
  for (const r of reasons) {
    if (r.startsWith('half.png')) assert.doesNotMatch(r.replace(/^half\.png: truncated or corrupt PNG/, ''), /jpe?g/i, r);
    else assert.doesNotMatch(r.replace(/^half\.jpg: truncated or corrupt JPEG/, ''), /png/i, r);
    assert.doesNotMatch(r, /unknown error/i);
  }
  assert.ok(reasons.some((r) => /libpng read error/.test(r)) && reasons.some((r) => /premature end of JPEG/.test(r)), 'each decoder\'s own message still comes through');
});

test('a socket in a class folder is skipped by name; a file that vanishes after listing is reported, not a crash', async () => {
  const net = await import('node:net');
  const d = makeDataset({ classes: ['Trouser', 'Bag'], perClass: 5, test: 2 });
  const sock = path.join(d.train, 'Bag', 'listen.png');
  const server = net.createServer().listen(sock);
  await new Promise((r) => server.once('listening', r));
  try {
    const ds = loadImageFolder(d.train);
    assert.ok(ds.skipped.some((s) => s.path === sock && /not a regular file/.test(s.reason)), JSON.stringify(ds.skipped));
    const r = expandInputs([path.join(d.train, 'Bag')]);
    assert.ok(r.skipped.some((s) => s.path === sock));
    // Listed, then gone before it is read (a sync client, a user tidying up): one failure naming it.
    const victim = ds.items.find((i) => path.dirname(i.path).endsWith('Trouser'))!.path;
    const { Classifier: C } = await import('../../src/workflow/predict.js');
    const out = path.join(tmpDir(), 'm');
    await trainClassifier({ data: d.root, out, inputSize: 96, quiet: true, report: false });
    const clf = await C.load(out);
    fs.rmSync(victim);
    const p = await clf.predictFiles([victim, ...r.images.slice(0, 2)]);
    assert.deepEqual(p.failed.map((f) => [f.path, f.error]), [[victim, 'no such file or folder']]);
    assert.equal(p.predictions.length, 2);
  } finally {
    server.close();
  }
});
