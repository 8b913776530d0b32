// The studio's REST API over real HTTP on 127.0.0.1: the session token, classes, uploads (formats,
// limits, traversal), listing and thumbnails, move, delete to the trash and restore, the
// prototype preview. The project stays exactly what `graft train` reads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { loadImageFolder } from '../../src/data/dataset.js';
import { Classifier } from '../../src/workflow/predict.js';
import { startStudio, demoImages, upload, form, json, CLASSES } from './helpers.js';

let s: Awaited<ReturnType<typeof startStudio>>;
const api = (p: string, init: RequestInit = {}) => fetch(`${s.base}${p}`, { ...init, headers: { ...s.auth, ...(init.body && typeof init.body === 'string' ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string>) } });

before(async () => {
  s = await startStudio();
});
after(() => s.close());

test('every API call needs the session token; the page shell does not', async () => {
  assert.equal((await fetch(`${s.base}/api/project`)).status, 401);
  assert.equal((await fetch(`${s.base}/api/project`, { headers: { authorization: 'Bearer nope' } })).status, 401);
  assert.equal((await fetch(`${s.base}/api/project?token=${s.token.slice(0, -1)}x`)).status, 401);
  assert.equal((await fetch(`${s.base}/api/project?token=${s.token}`)).status, 200);
  assert.equal((await api('/api/project')).status, 200);
  assert.equal((await fetch(`${s.base}/`)).status, 200);
  assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}$/);
});

test('classes: create, refuse bad names (traversal, hidden, separators), rename, delete to the trash and restore', async () => {
  for (const c of CLASSES) assert.equal((await api('/api/classes', { method: 'POST', body: JSON.stringify({ name: c }) })).status, 201);
  assert.equal((await api('/api/classes', { method: 'POST', body: JSON.stringify({ name: 'Bag' }) })).status, 409);
  for (const bad of ['../evil', '..', '.graft', 'a/b', 'a\\b', '', '_inbox', 'x\u0000y']) {
    const r = await api('/api/classes', { method: 'POST', body: JSON.stringify({ name: bad }) });
    assert.equal(r.status, 400, bad);
    assert.equal((await r.json()).code, 'E_STUDIO_BAD_NAME');
  }
  assert.equal(fs.existsSync(path.join(path.dirname(s.ctx.project.root), 'evil')), false);
  assert.equal((await api('/api/classes/Temp', { method: 'POST' })).status, 404);
  await json(api('/api/classes', { method: 'POST', body: JSON.stringify({ name: 'Temp' }) }));
  assert.deepEqual(await json(api('/api/classes/Temp', { method: 'PATCH', body: JSON.stringify({ name: 'Temp2' }) })), { name: 'Temp2' });
  assert.equal((await api('/api/classes/Temp2', { method: 'PATCH', body: JSON.stringify({ name: '../x' }) })).status, 400);
  const del = await json(api('/api/classes/Temp2', { method: 'DELETE' }));
  assert.equal(del.trashed.kind, 'class');
  assert.deepEqual((await json(api('/api/project'))).classes.map((c: { name: string }) => c.name), ['Bag', 'Sneaker', 'Trouser']);
  await json(api(`/api/trash/${del.trashed.id}/restore`, { method: 'POST' }));
  assert.ok(fs.existsSync(path.join(s.ctx.project.root, 'Temp2')));
  await json(api('/api/classes/Temp2', { method: 'DELETE' }));
});

test('uploads: every format the CLI decodes; traversal names, non-images and corrupt files refused; limits answer 413', async () => {
  for (const c of CLASSES) assert.equal((await upload(s, c, demoImages(c, 4))).status, 201);
  const png = fs.readFileSync(demoImages('Bag', 1, 10)[0]!);
  const formats = { 'a.jpg': await sharp(png).resize(64, 64).jpeg().toBuffer(), 'b.webp': await sharp(png).resize(64, 64).webp().toBuffer(), 'c.tiff': await sharp(png).tiff().toBuffer(), 'd.gif': await sharp(png).gif().toBuffer(), 'e.avif': await sharp(png).resize(64, 64).avif().toBuffer() };
  const r = await json(api('/api/images?label=Bag', { method: 'POST', body: form(Object.entries(formats).map(([name, bytes]) => ({ name, bytes }))) }));
  assert.deepEqual(r.added.map((a: { name: string }) => a.name).sort(), Object.keys(formats));
  assert.deepEqual(r.failed, []);
  // The same name again gets a numbered sibling; nothing is overwritten.
  const again = await json(api('/api/images?label=Bag', { method: 'POST', body: form([{ name: 'a.jpg', bytes: formats['a.jpg'] }]) }));
  assert.equal(again.added[0].name, 'a-1.jpg');

  const bad = await api('/api/images?label=Bag', { method: 'POST', body: form([{ name: '../../escape.png', bytes: png }, { name: '.hidden.png', bytes: png }, { name: 'notes.txt', bytes: Buffer.from('hi') }, { name: 'broken.png', bytes: png.subarray(0, 40) }]) });
  assert.equal(bad.status, 400);
  const failed = (await bad.json()).failed as { name: string; error: string }[];
  assert.equal(failed.length, 4);
  assert.match(failed[0]!.error, /path separator/);
  assert.equal(fs.existsSync(path.join(path.dirname(s.ctx.project.root), 'escape.png')), false);
  for (const label of ['../x', '.graft', 'NoSuchClass']) assert.ok([400, 404].includes((await api(`/api/images?label=${encodeURIComponent(label)}`, { method: 'POST', body: form([{ name: 'z.png', bytes: png }]) })).status));

  const small = await startStudio(undefined, { bodyLimit: 4096, maxPixels: 1000 });
  try {
    const big = await fetch(`${small.base}/api/images?label=`, { method: 'POST', headers: small.auth, body: form([{ name: 'big.png', bytes: Buffer.alloc(10_000, 1) }]) });
    assert.equal(big.status, 413);
    const bomb = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#888' } }).png().toBuffer();
    const px = await fetch(`${small.base}/api/images?label=`, { method: 'POST', headers: small.auth, body: form([{ name: 'bomb.png', bytes: bomb }]) });
    assert.equal(px.status, 413);
    assert.match((await px.json()).error, /10000 pixels exceeds/);
  } finally {
    await small.close();
  }
  // What graft train reads: the three classes, nothing of .graft/.
  const ds = loadImageFolder(s.ctx.project.root);
  assert.deepEqual(ds.classes, ['Bag', 'Sneaker', 'Trouser']);
  assert.equal(ds.items.length, 4 * 3 + 6);
});

test('listing, thumbnails, originals; ids outside the project refused', async () => {
  const page = await json(api('/api/images?label=Trouser&limit=2'));
  assert.equal(page.total, 4);
  assert.equal(page.images.length, 2);
  const t = await api(`/api/thumb?id=${encodeURIComponent(page.images[0].id)}`);
  assert.equal(t.headers.get('content-type'), 'image/webp');
  const meta = await sharp(Buffer.from(await t.arrayBuffer())).metadata();
  assert.deepEqual([meta.width, meta.height], [160, 160]);
  assert.equal(fs.readdirSync(path.join(s.ctx.project.meta, 'thumbs')).length >= 1, true);
  const orig = await api(`/api/image?id=${encodeURIComponent(page.images[0].id)}`);
  assert.deepEqual(Buffer.from(await orig.arrayBuffer()), fs.readFileSync(path.join(s.ctx.project.root, page.images[0].id)));
  for (const id of ['../outside.png', 'Trouser/../../x.png', '/etc/passwd', '.graft/settings.json', '.graft/trash/x/y.png', 'Trouser/nope.png']) {
    const r = await api(`/api/thumb?id=${encodeURIComponent(id)}`);
    assert.ok([400, 404].includes(r.status), `${id}: ${r.status}`);
  }
});

test('move (relabel), delete to the trash, restore: nothing is lost', async () => {
  const before = loadImageFolder(s.ctx.project.root).items.length;
  const [img] = (await json(api('/api/images?label=Trouser&limit=1'))).images;
  const moved = await json(api('/api/images/move', { method: 'POST', body: JSON.stringify({ ids: [img.id], to: 'Sneaker' }) }));
  assert.equal(moved.moved[0].label, 'Sneaker');
  assert.ok(fs.existsSync(path.join(s.ctx.project.root, moved.moved[0].id)));
  assert.equal((await api('/api/images/move', { method: 'POST', body: JSON.stringify({ ids: [moved.moved[0].id], to: '../up' }) })).status, 400);
  const del = await json(api('/api/images/delete', { method: 'POST', body: JSON.stringify({ ids: [moved.moved[0].id] }) }));
  assert.equal(loadImageFolder(s.ctx.project.root).items.length, before - 1);
  const trash = await json(api('/api/trash'));
  assert.ok(trash.entries.some((e: { id: string }) => e.id === del.trashed[0].id));
  assert.equal((await api('/api/trash/..%2F..%2Fetc/restore', { method: 'POST' })).status, 404);
  const back = await json(api(`/api/trash/${del.trashed[0].id}/restore`, { method: 'POST' }));
  assert.deepEqual(back.restored, [moved.moved[0].id]);
  assert.equal(loadImageFolder(s.ctx.project.root).items.length, before);
});

test('each image is embedded once; the prototype head pre-labels the inbox', async () => {
  await upload(s, '_inbox', [...demoImages('Sneaker', 2, 10, 'test'), ...demoImages('Trouser', 2, 10, 'test')]);
  await s.ctx.embedder.settled();
  const p = await json(api('/api/preview'));
  assert.equal(p.ready, true);
  assert.deepEqual(p.classes, ['Bag', 'Sneaker', 'Trouser']);
  assert.ok(p.fitAccuracy > 0.5, String(p.fitAccuracy));
  const inbox = await json(api('/api/images?label=_inbox'));
  assert.equal(inbox.total, 4);
  assert.equal(inbox.guessedBy, 'prototype');
  for (const i of inbox.images) {
    assert.ok(i.guess, JSON.stringify(i));
    assert.equal(i.guess.by, 'prototype');
    assert.ok(i.guess.confidence > 0 && i.guess.confidence <= 1);
  }
  assert.deepEqual(inbox.images.map((i: { guess: { label: string } }) => i.guess.label).sort(), ['Sneaker', 'Sneaker', 'Trouser', 'Trouser']);
  // Embedded into the CLI's feature cache: one entry, holding every image.
  const feats = path.join(path.dirname(s.ctx.project.root), 'cache', 'features');
  assert.ok(fs.readdirSync(feats).some((f) => !f.endsWith('.lock')));
});

/** Read an SSE response until `until` returns true for the messages so far. */
async function readEvents(res: Response, until: (m: { id: number; event: string; data: any }[]) => boolean): Promise<{ id: number; event: string; data: any }[]> {
  const out: { id: number; event: string; data: any }[] = [];
  const reader = res.body!.getReader();
  let buf = '';
  while (!until(out)) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += Buffer.from(value).toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const f = Object.fromEntries(block.split('\n').filter((l) => /^(id|event|data):/.test(l)).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
      if (f.id) out.push({ id: Number(f.id), event: f.event!, data: JSON.parse(f.data!) });
    }
  }
  await reader.cancel();
  return out;
}

test('training: one run at a time in a child process, progress as SSE with ids (replayed after Last-Event-ID), a version directory; cancel keeps nothing', async () => {
  for (const options of [{ bogus: 1 }, { epochs: 0 }, { head: 'nope' }]) {
    const r = await api('/api/train', { method: 'POST', body: JSON.stringify({ options }) });
    assert.equal(r.status, 400, JSON.stringify(options));
    assert.equal((await r.json()).code, 'E_BAD_OPTIONS');
  }
  const sse = await api('/api/events');
  assert.equal(sse.headers.get('content-type'), 'text/event-stream');
  const started = await api('/api/train', { method: 'POST' });
  assert.equal(started.status, 202);
  assert.equal((await started.json()).version, 'v1');
  assert.equal((await api('/api/train', { method: 'POST' })).status, 409);
  const msgs = await readEvents(sse, (m) => m.some((x) => x.event === 'state' && x.data.status !== 'running'));
  const end = msgs.at(-1)!;
  assert.equal(end.data.status, 'done', JSON.stringify(end.data));
  assert.ok(msgs.some((m) => m.event === 'train' && m.data.type === 'stage'));
  assert.deepEqual(msgs.map((m) => m.id), msgs.map((m) => m.id).slice().sort((a, b) => a - b));
  // A reconnect with Last-Event-ID gets exactly what came after it.
  const mid = msgs[Math.floor(msgs.length / 2)]!.id;
  const again = await readEvents(await api('/api/events', { headers: { 'last-event-id': String(mid) } }), (m) => m.length >= msgs.length - msgs.findIndex((x) => x.id === mid) - 1);
  assert.deepEqual(again.map((m) => m.id), msgs.filter((m) => m.id > mid).map((m) => m.id));

  const dir = path.join(s.ctx.project.meta, 'models', 'v1');
  for (const f of ['graft.json', 'model.onnx', 'report.html']) assert.ok(fs.existsSync(path.join(dir, f)), f);
  const v = await json(api('/api/versions/v1'));
  assert.deepEqual(v.inspect.classes, ['Bag', 'Sneaker', 'Trouser']);
  assert.equal(v.inspect.images.length, loadImageFolder(s.ctx.project.root).items.length);
  assert.equal(v.inspect.fit.confusion.flat().reduce((a: number, b: number) => a + b, 0), v.inspect.images.length);
  assert.equal((await api('/api/versions/v9')).status, 404);
  assert.equal((await api('/api/versions/..%2F..%2Fx/model.onnx')).status, 404);
  // Server-side try through v1's model.onnx and through the prototype head.
  const img = demoImages('Trouser', 1, 15, 'test')[0]!;
  const tv = await json(api('/api/try?via=v1', { method: 'POST', body: form([{ name: 't.png', bytes: fs.readFileSync(img) }]) }));
  const clf = await Classifier.load(dir);
  const want = (await clf.predictFiles([img])).predictions[0]!;
  assert.equal(tv.top[0].label, want.top[0]!.label);
  assert.ok(Math.abs(tv.top[0].probability - want.top[0]!.probability) < 1e-6);
  // The inbox is now pre-labelled by v1's model.onnx (computed in the background), as graft predict labels it.
  assert.equal((await json(api('/api/images?label=_inbox'))).guessedBy, 'v1');
  await s.ctx.inbox.settled();
  const inbox = await json(api('/api/images?label=_inbox'));
  assert.equal(inbox.pending, 0);
  assert.equal(inbox.images.length, 4);
  const preds = (await clf.predictFiles(inbox.images.map((i: { id: string }) => path.join(s.ctx.project.root, i.id)))).predictions;
  assert.equal(preds.length, 4);
  inbox.images.forEach((i: { guess: { label: string; confidence: number; by: string } }, n: number) => {
    assert.equal(i.guess.by, 'v1');
    assert.equal(i.guess.label, preds[n]!.top[0]!.label);
    assert.ok(Math.abs(i.guess.confidence - preds[n]!.top[0]!.probability) < 1e-6);
  });
  clf.dispose();
  const tp = await json(api('/api/try?via=prototype', { method: 'POST', body: form([{ name: 't.png', bytes: fs.readFileSync(img) }]) }));
  assert.ok(['Bag', 'Sneaker', 'Trouser'].includes(tp.top[0].label));
  assert.ok(Math.abs(tp.top.reduce((a: number, t: { probability: number }) => a + t.probability, 0) - 1) < 1e-5);

  // Shift: deployment images of the same classes, checked by graft shift through v1's features.
  const deploy = [...demoImages('Bag', 3, 12, 'test'), ...demoImages('Sneaker', 3, 12, 'test')];
  const sh = await json(api('/api/shift?version=v1', { method: 'POST', body: form(deploy.map((p) => ({ name: path.basename(p), bytes: fs.readFileSync(p) }))) }));
  assert.equal(sh.images, 6);
  assert.equal(sh.report.counts.b, 6);
  assert.ok(['no detectable shift', 'shift: adapt before deploying'].includes(sh.report.verdict));
  assert.ok(sh.report.confidenceDrift);
  assert.equal(fs.readdirSync(path.join(s.ctx.project.root, sh.folder)).length, 6);
  assert.equal((await api('/api/shift?version=v7', { method: 'POST', body: form([{ name: 'a.png', bytes: fs.readFileSync(deploy[0]!) }]) })).status, 404);

  // Cancel: the run stops, no v2 appears.
  const sse2 = await api('/api/events', { headers: { 'last-event-id': String(end.id) } });
  await json(api('/api/train', { method: 'POST' }));
  await json(api('/api/train/cancel', { method: 'POST' }));
  const after = await readEvents(sse2, (m) => m.some((x) => x.event === 'state' && x.data.status !== 'running'));
  assert.equal(after.at(-1)!.data.status, 'cancelled');
  assert.equal(fs.existsSync(path.join(s.ctx.project.meta, 'models', 'v2')), false);
  assert.equal((await api('/api/train/cancel', { method: 'POST' })).status, 409);

  // Adapt v1 to the deployment folder shift received (AdaBN): a new version whose graft.json records it.
  assert.equal((await api('/api/adapt?version=v1&method=dann', { method: 'POST' })).status, 400);
  assert.equal((await api('/api/adapt?version=v1&folder=..%2F..%2Fx', { method: 'POST' })).status, 404);
  assert.equal((await api('/api/adapt?version=v7', { method: 'POST' })).status, 404);
  const ad = await json(api(`/api/adapt?version=v1&method=adabn&folder=${encodeURIComponent(sh.folder)}`, { method: 'POST' }));
  assert.equal(ad.version, 'v2');
  assert.equal(ad.from, 'v1');
  assert.ok(ad.after.meanMaxProb > 0 && ad.after.meanMaxProb <= 1);
  const v2dir = path.join(s.ctx.project.meta, 'models', 'v2');
  const m2 = JSON.parse(fs.readFileSync(path.join(v2dir, 'graft.json'), 'utf8'));
  const rec = m2.adaptation.at(-1);
  assert.equal(rec.method, 'adabn');
  assert.equal(rec.target, path.join(s.ctx.project.root, sh.folder));
  assert.equal(rec.counts.target, 6);
  assert.equal(path.basename(rec.from), 'v1');
  const listed = (await json(api('/api/versions'))).versions.find((x: { version: string }) => x.version === 'v2');
  assert.equal(listed.adaptedFrom.version, 'v1');
  assert.equal(listed.adaptedFrom.method, 'adabn');
  const v2 = await json(api('/api/versions/v2'));
  assert.equal(v2.inspect, undefined);
  const clf2 = await Classifier.load(v2dir);
  assert.deepEqual(clf2.classes, ['Bag', 'Sneaker', 'Trouser']);
  clf2.dispose();
  // One run at a time: while an adaptation (CORAL, this time) goes on, training and another adaptation are refused.
  const coral = s.ctx.trainer.adapt('v1', 'coral', path.join(s.ctx.project.root, sh.folder));
  const busy = await api('/api/train', { method: 'POST' });
  assert.equal(busy.status, 409);
  assert.equal((await busy.json()).code, 'E_STUDIO_BUSY');
  assert.equal((await api('/api/adapt?version=v1', { method: 'POST' })).status, 409);
  assert.equal((await coral).version, 'v3');
  assert.equal(JSON.parse(fs.readFileSync(path.join(s.ctx.project.meta, 'models', 'v3', 'graft.json'), 'utf8')).adaptation.at(-1).method, 'coral');
  // The inbox follows the newest version.
  await json(api('/api/images?label=_inbox'));
  await s.ctx.inbox.settled();
  assert.equal((await json(api('/api/images?label=_inbox'))).guessedBy, 'v3');
});
