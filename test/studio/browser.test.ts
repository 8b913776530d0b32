// graft studio end to end in real headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core): create a project and three classes, add images by upload, folder picker and
// drop, capture a webcam burst (Chromium's fake camera), see
// the prototype preview pre-label the inbox, train, read the accuracy, open a confusion-matrix
// cell, relabel an image from it, retrain, compare versions, classify an image in the page with
// onnxruntime-web (same top-1 as Classifier/graft predict), run graft shift on a deployment
// folder and adapt to it (AdaBN, a new version), export the zip and run its model.onnx in plain onnxruntime-node. Screenshots (1280×800) of each page go to out/studio-shots/ (git-ignored;
// the README's copies in docs/studio/ were taken from there).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { unzipSync } from 'fflate';
import * as ort from 'onnxruntime-node';
import { Classifier } from '../../src/workflow/predict.js';
import { decodeImage } from '../../src/data/decode.js';
import { startStudio, demoImages, CLASSES } from './helpers.js';
// @ts-expect-error: a plain .mjs build script without types
import { buildStudio } from '../../scripts/build-studio.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = process.env.STUDIO_SHOTS ?? fileURLToPath(new URL('../../out/studio-shots/', import.meta.url));
const have = fs.existsSync(CHROMIUM);

let s: Awaited<ReturnType<typeof startStudio>>;
let browser: Browser;
let page: Page;

before(async () => {
  if (!have) return;
  await buildStudio({ minify: false });
  s = await startStudio();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page.on('pageerror', (e) => console.error('page error:', e.message));
  fs.mkdirSync(SHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await s?.close();
});

const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
const count = (label: string) => fs.readdirSync(path.join(s.ctx.project.root, label)).filter((f) => !f.startsWith('.')).length;

test('studio in headless Chromium: label, preview, train, inspect and fix, retrain, try, export', { skip: !have && `no chromium at ${CHROMIUM}` }, async () => {
  await page.goto(s.url);
  await page.waitForSelector('text=Inbox (unlabelled)');

  // Three classes, by the form.
  for (const c of CLASSES) {
    await page.fill('input[name=newclass]', c);
    await page.press('input[name=newclass]', 'Enter');
    await page.waitForSelector(`li[data-class="${c}"]`);
  }
  // One class by the file picker, one by the folder picker (a real folder), the third by dropping files on the page.
  await page.click(`li[data-class="${CLASSES[0]}"]`);
  await page.setInputFiles('input[data-testid=upload]', demoImages(CLASSES[0]!, 8));
  await page.waitForFunction((n) => document.querySelectorAll('.tile').length === n, 8);
  const folder = path.join(path.dirname(s.ctx.project.root), 'picked', CLASSES[1]!);
  fs.mkdirSync(folder, { recursive: true });
  for (const f of demoImages(CLASSES[1]!, 8)) fs.copyFileSync(f, path.join(folder, path.basename(f)));
  await page.click(`li[data-class="${CLASSES[1]}"]`);
  await page.setInputFiles('input[data-testid=folder]', folder);
  await page.waitForFunction((n) => document.querySelectorAll('.tile').length === n, 8);
  const third = CLASSES[2]!;
  await page.click(`li[data-class="${third}"]`);
  const files = demoImages(third, 8).map((p) => ({ name: path.basename(p), b64: fs.readFileSync(p).toString('base64') }));
  await page.evaluate((fs_) => {
    const dt = new DataTransfer();
    for (const f of fs_) dt.items.add(new File([Uint8Array.from(atob(f.b64), (ch) => ch.charCodeAt(0))], f.name, { type: 'image/png' }));
    document.querySelector('.data')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files);
  await page.waitForFunction((n) => document.querySelectorAll('.tile').length === n, 8);
  // The grid may still show the previous class's 8 tiles right after a click: wait for the files
  // on disk, which is what the upload must produce.
  for (const c of CLASSES) {
    for (let t0 = Date.now(); count(c) !== 8 && Date.now() - t0 < 20_000; ) await new Promise((r) => setTimeout(r, 50));
    assert.equal(count(c), 8, c);
  }

  // Delete with the keyboard, then restore from the trash: nothing is lost.
  await page.click('.tile >> nth=0');
  const gone = await page.getAttribute('.tile.sel', 'data-id');
  await page.keyboard.press('Delete');
  await page.waitForFunction((n) => document.querySelectorAll('.tile').length === n, 7);
  assert.equal(count(third), 7);
  await page.click('li[data-class="_trash"]');
  await page.click('tr[data-trash] button');
  await page.waitForSelector('text=The trash is empty');
  assert.equal(count(third), 8);
  assert.ok(fs.existsSync(path.join(s.ctx.project.root, gone!)));

  // Unlabelled images into the inbox: the prototype head pre-labels them as soon as they are embedded.
  await page.click(`li[data-class="_inbox"]`);
  const inbox = [...demoImages('Sneaker', 2, 0, 'test'), ...demoImages('Trouser', 2, 0, 'test')];
  await page.setInputFiles('input[data-testid=upload]', inbox);
  await page.waitForFunction(() => document.querySelectorAll('.tile figcaption').length === 4, undefined, { timeout: 30_000 });
  await page.waitForSelector('[data-testid=preview] .acc');
  const guesses = await page.$$eval('.tile figcaption', (els) => els.map((e) => e.textContent!.split(' ')[0]));
  assert.deepEqual(guesses.sort(), ['Sneaker', 'Sneaker', 'Trouser', 'Trouser']);
  await page.click('.tile >> nth=0');
  await shot('data');

  // Webcam (Chromium's fake camera): hold to capture a burst into the inbox.
  await page.click('[data-testid=webcam-toggle]');
  await page.waitForFunction(() => (document.querySelector('[data-testid=webcam]') as HTMLVideoElement | null)?.videoWidth! > 0);
  await page.hover('[data-testid=capture]');
  await page.mouse.down();
  await page.waitForTimeout(700);
  await page.mouse.up();
  await page.waitForFunction(() => document.querySelectorAll('.tile').length > 5, undefined, { timeout: 20_000 });
  const webcamFiles = fs.readdirSync(s.ctx.project.inboxDir).filter((f) => f.startsWith('webcam-'));
  assert.ok(webcamFiles.length >= 3, webcamFiles.join());
  await page.click('[data-testid=webcam-toggle]');

  // Train v1.
  await page.click('a[data-page=train]');
  await page.click('[data-testid=train]');
  await page.waitForFunction(() => /v1 done/.test(document.querySelector('[data-testid=runstate]')?.textContent ?? ''), undefined, { timeout: 90_000 });
  await page.waitForSelector('.versions td');
  await shot('train');
  assert.ok(fs.existsSync(path.join(s.ctx.project.meta, 'models', 'v1', 'model.onnx')));
  assert.ok(fs.existsSync(path.join(s.ctx.project.meta, 'models', 'v1', 'report.html')));

  // The inbox is now pre-labelled by v1's model, and the page says so.
  await page.click('a[data-page=data]');
  await page.click('li[data-class="_inbox"]');
  await page.waitForSelector('[data-testid=guessed-by][data-by=v1]', { timeout: 20_000 });
  await page.waitForFunction(() => { const f = [...document.querySelectorAll('.tile figcaption')]; return f.length > 0 && f.every((e) => e.getAttribute('data-by') === 'v1'); }, undefined, { timeout: 20_000 });
  await shot('data-v1');

  // Inspect: the accuracy, a confusion cell's images, relabel one of them.
  await page.click('a[data-page=inspect]');
  const acc = await page.textContent('[data-testid=accuracy] b', { timeout: 10_000 });
  assert.match(acc!, /^\d+\.\d%$/);
  const v1 = JSON.parse(fs.readFileSync(path.join(s.ctx.project.meta, 'models', 'v1', 'graft.json'), 'utf8'));
  assert.equal(acc, `${(v1.metrics.accuracy * 100).toFixed(1)}%`);
  await page.click('td[data-cell="0,0"]');
  await page.waitForSelector('[data-testid=cell] .fix');
  const inCell = await page.$$eval('[data-testid=cell] .fix', (els) => els.map((e) => e.getAttribute('data-id')!));
  assert.ok(inCell.length > 0 && inCell.every((id) => id.startsWith(`${CLASSES.slice().sort()[0]}/`)), inCell.join());
  await shot('inspect');
  const moved = inCell[0]!;
  const from = moved.split('/')[0]!;
  const to = CLASSES.find((c) => c !== from)!;
  await page.selectOption('[data-testid=cell] .fix >> nth=0 >> select', to);
  await page.waitForFunction((id) => !document.querySelector(`[data-testid=cell] .fix[data-id="${id}"]`), moved);
  assert.equal(count(from), 7);
  assert.equal(count(to), 9);
  assert.ok(fs.existsSync(path.join(s.ctx.project.root, to, moved.split('/')[1]!)));

  // Retrain: v2 learns the new label set.
  await page.click('a[data-page=train]');
  await page.click('[data-testid=train]');
  await page.waitForFunction(() => /v2 done/.test(document.querySelector('[data-testid=runstate]')?.textContent ?? ''), undefined, { timeout: 90_000 });
  const v2dir = path.join(s.ctx.project.meta, 'models', 'v2');
  const v2 = await (await fetch(`${s.base}/api/versions/v2`, { headers: s.auth })).json();
  assert.equal(v2.inspect.images.find((i: { id: string }) => i.id === `${to}/${moved.split('/')[1]}`).actual, v2.inspect.classes.indexOf(to));

  // Compare the two versions.
  await page.click('a[data-page=inspect]');
  await page.selectOption('[data-testid=compare]', 'v1');
  await page.waitForSelector('.compare table');
  assert.equal(await page.locator('.compare tbody tr').count(), 1 + CLASSES.length);

  // Try in the page (onnxruntime-web): the same top-1 as Classifier (graft predict).
  await page.click('a[data-page=try]');
  const clf = await Classifier.load(v2dir);
  const probes = [...demoImages('Bag', 1, 5, 'test'), ...demoImages('Sneaker', 1, 5, 'test')];
  const topOf = new Map<string, string>();
  for (const img of probes) {
    await page.setInputFiles('input[data-testid=try-file]', img);
    await page.waitForSelector('[data-testid=topk]', { timeout: 30_000 });
    const inPage = await page.getAttribute('[data-testid=topk]', 'data-top');
    const { predictions } = await clf.predictFiles([img], { top: 1 });
    assert.equal(inPage, predictions[0]!.top[0]!.label, img);
    topOf.set(img, predictions[0]!.top[0]!.label);
  }
  clf.dispose();
  await shot('try');

  // Deployment check: graft shift on a folder of unlabelled images.
  const deploy = path.join(path.dirname(s.ctx.project.root), 'deploy');
  fs.mkdirSync(deploy);
  for (const f of [...demoImages('Bag', 3, 14, 'test'), ...demoImages('Trouser', 3, 14, 'test')]) fs.copyFileSync(f, path.join(deploy, path.basename(path.dirname(f)) + path.basename(f)));
  await page.setInputFiles('input[data-testid=shift-folder]', deploy);
  await page.waitForSelector('[data-testid=shift-verdict]', { timeout: 60_000 });
  assert.match((await page.textContent('[data-testid=shift-verdict] b'))!, /shift/);
  // Adapt from the verdict (AdaBN on that folder): v3, whose graft.json records the adaptation.
  await page.click('[data-testid=adapt-adabn]');
  await page.waitForSelector('[data-testid=adapted][data-version=v3]', { timeout: 60_000 });
  const v3 = JSON.parse(fs.readFileSync(path.join(s.ctx.project.meta, 'models', 'v3', 'graft.json'), 'utf8'));
  assert.equal(v3.adaptation.at(-1).method, 'adabn');
  assert.equal(path.basename(v3.adaptation.at(-1).from), 'v2');
  await page.locator('[data-testid=adapted]').scrollIntoViewIfNeeded();
  await shot('shift');
  // The rest of the page stays on v2 (the export below is checked against v2's answers).
  await page.selectOption('.try .toolbar select', 'v2');

  // Live webcam in the Try page: frames classified in the page.
  await page.click('[data-testid=try-webcam]');
  await page.waitForFunction(() => /onnxruntime-web/.test(document.querySelector('[data-testid=topk]')?.textContent ?? '') && !!document.querySelector('[data-testid=webcam]'), undefined, { timeout: 20_000 });
  assert.ok(CLASSES.includes((await page.getAttribute('[data-testid=topk]', 'data-top'))!));
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot('webcam');
  await page.click('[data-testid=try-webcam]');

  // Export: the zip holds the model directory; plain onnxruntime-node runs its model.onnx.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export]')]);
  const zipFile = path.join(path.dirname(s.ctx.project.root), 'export.zip');
  await download.saveAs(zipFile);
  const entries = unzipSync(fs.readFileSync(zipFile));
  const names = Object.keys(entries).map((n) => n.split('/').pop());
  for (const f of ['graft.json', 'model.onnx', 'model.json', 'weights.bin', 'report.html']) assert.ok(names.includes(f), `${f} in ${names.join(', ')}`);
  const onnxBytes = Object.entries(entries).find(([n]) => n.endsWith('/model.onnx'))![1];
  const manifest = JSON.parse(Buffer.from(Object.entries(entries).find(([n]) => n.endsWith('/graft.json'))![1]).toString('utf8'));
  const session = await ort.InferenceSession.create(onnxBytes);
  const d = await decodeImage(probes[0]!, { size: manifest.inputSize, fit: manifest.resize });
  assert.ok(d.ok);
  const [h, w] = manifest.inputSize;
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', Float32Array.from(d.data), [1, h, w, 3]) });
  const p = Array.from(out[session.outputNames[0]!]!.data as Float32Array);
  // The zip's model.onnx in plain onnxruntime gives graft predict's answer for the same image.
  assert.equal(manifest.classes[p.indexOf(Math.max(...p))], topOf.get(probes[0]!));
  await session.release();

  // Inspect copes with the adapted version (no labelled images to inspect): it says what v3 is.
  await page.click('a[data-page=inspect]');
  await page.evaluate(() => (location.hash = 'inspect/v3'));
  await page.waitForSelector('[data-testid=no-inspect]');
  assert.match((await page.textContent('[data-testid=no-inspect]'))!, /v2 adapted with adabn/);
  await shot('inspect-adapted');
  await page.click('a[data-page=train]');
  await page.waitForSelector('.versions td small');
  await shot('train-versions');
});
