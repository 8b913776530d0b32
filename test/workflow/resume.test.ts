// Interrupted training resumes where it stopped: kill -9 at several points of a two-stage run
// (the head stage, between the stages, the fine-tune stage, at random moments, the checkpoint
// write included), rerun the same command, and the model is bit for bit the uninterrupted one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { makeDataset, tmpDir } from './fixtures.js';

const CHILD = fileURLToPath(new URL('./resume-child.ts', import.meta.url));
const ds = makeDataset({ perClass: 10, test: 2 });
const cache = tmpDir('graft-cache-');
const base = { data: ds.train, inputSize: 96, epochs: 4, fineTuneBlocks: 1, fineTuneEpochs: 3, hidden: [16], dropout: 0.5, batchSize: 4, seed: 3, cacheDir: cache, quiet: true, report: false, onnx: false };

interface ChildResult { status: number | null; signal: NodeJS.Signals | null; out?: { ok: boolean; code?: string; message?: string; messages: string[] } }

function run(opts: Record<string, unknown>, kill?: [string, number, number] | ['message', string]): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(opts), ...(kill ?? []).map(String)], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0 && r.signal !== 'SIGKILL') throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return { status: r.status, signal: r.signal, out: r.stdout ? JSON.parse(r.stdout) : undefined };
}

const weights = (dir: string) => fs.readFileSync(path.join(dir, 'weights.bin'));
const history = (dir: string) => (JSON.parse(fs.readFileSync(path.join(dir, 'graft.json'), 'utf8')) as { history: Record<string, unknown>[] }).history.map(({ seconds: _s, ...h }) => h);
const metrics = (dir: string) => (JSON.parse(fs.readFileSync(path.join(dir, 'graft.json'), 'utf8')) as { metrics: unknown }).metrics;
const logLines = (dir: string) => fs.readFileSync(path.join(dir, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => { const { time: _t, seconds: _s, ...rest } = JSON.parse(l); return rest; });

const reference = path.join(tmpDir(), 'whole');
test('resume: the uninterrupted reference run', () => {
  const r = run({ ...base, out: reference });
  assert.ok(r.out?.ok, JSON.stringify(r.out));
  assert.ok(!fs.existsSync(`${reference}.checkpoint`), 'no checkpoint left after a finished run');
});

test('resume: kill -9 in the head stage, between the stages and in the fine-tune stage; each rerun continues; the model equals the uninterrupted one', () => {
  const out = path.join(tmpDir(), 'killed');
  const o = { ...base, out };
  for (const point of [['head', 3, 2], ['fine-tune', 1, 1], ['fine-tune', 3, 1]] as [string, number, number][]) {
    const r = run(o, point);
    assert.equal(r.signal, 'SIGKILL', `the run should have been killed at ${point.join(' ')}`);
    assert.ok(fs.existsSync(path.join(`${out}.checkpoint`, 'resume', 'state.json')), 'a checkpoint survives the kill');
    assert.ok(!fs.existsSync(out), 'no model directory from a killed run');
  }
  const last = run(o);
  assert.ok(last.out?.ok, JSON.stringify(last.out));
  assert.ok(last.out!.messages.some((m) => /resuming/i.test(m)), `the rerun says it resumes: ${last.out!.messages.join(' | ')}`);
  assert.ok(last.out!.messages.some((m) => /head stage finished before the interruption/.test(m)), 'the finished head stage is not trained again');
  assert.ok(weights(out).equals(weights(reference)), 'weights differ from the uninterrupted run');
  assert.deepEqual(history(out), history(reference));
  assert.deepEqual(metrics(out), metrics(reference));
  assert.deepEqual(logLines(out), logLines(reference), 'the training log has each epoch once, as in the uninterrupted run');
  assert.ok(!fs.existsSync(`${out}.checkpoint`));
});

test('resume: kill -9 at random moments (checkpoint writes included) never loses the run', async () => {
  const out = path.join(tmpDir(), 'random');
  const o = { ...base, epochs: 40, fineTuneEpochs: 1, earlyStopping: 6, out };
  const ref = path.join(tmpDir(), 'random-ref');
  assert.ok(run({ ...o, out: ref }).out?.ok);
  // Kill after a growing delay from the first checkpoint, so kills land inside epochs and writes.
  for (const delay of [30, 55, 80]) {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(o)], { stdio: 'ignore' });
    const state = path.join(`${out}.checkpoint`, 'resume', 'state.json');
    const start = fs.existsSync(state) ? fs.statSync(state).mtimeMs : 0;
    const exited = new Promise((r) => child.on('exit', r));
    while (child.exitCode === null && !(fs.existsSync(state) && fs.statSync(state).mtimeMs > start)) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await exited;
    if (fs.existsSync(out)) break; // finished before the kill
  }
  if (!fs.existsSync(out)) assert.ok(run(o).out?.ok);
  assert.ok(weights(out).equals(weights(ref)), 'weights differ from the uninterrupted run');
  assert.deepEqual(metrics(out), metrics(ref));
});

test('resume: kill -9 just before and during the model write leaves no torn model; the rerun writes the same one', async () => {
  const out = path.join(tmpDir(), 'write');
  const o = { ...base, out, onnx: true, report: true };
  const ref = path.join(tmpDir(), 'write-ref');
  assert.ok(run({ ...o, out: ref }).out?.ok);
  assert.equal(run(o, ['message', 'Writing']).signal, 'SIGKILL');
  assert.ok(!fs.existsSync(out));
  // Kill while the staging folder fills (model.json, weights, model.onnx, report).
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(o)], { stdio: 'ignore' });
  const exited = new Promise((r) => child.on('exit', r));
  const parent = path.dirname(out);
  while (child.exitCode === null && !fs.readdirSync(parent).some((n) => n.startsWith(`.${path.basename(out)}.staging-`))) await new Promise((r) => setTimeout(r, 2));
  child.kill('SIGKILL');
  await exited;
  // Either no model yet, or (killed after the swap) a complete one: never a torn directory.
  if (fs.existsSync(out)) assert.ok(weights(out).equals(weights(ref)) && fs.existsSync(path.join(out, 'graft.json')));
  else {
    const again = run(o).out!;
    assert.ok(again.ok, JSON.stringify(again));
    assert.ok(again.messages.some((m) => /resuming/i.test(m)), 'the rerun resumes from the last epoch instead of training again');
  }
  assert.ok(weights(out).equals(weights(ref)));
  for (const f of ['model.json', 'model.onnx', 'graft.json', 'report.html']) assert.ok(fs.existsSync(path.join(out, f)), f);
  assert.ok(!fs.readdirSync(parent).some((n) => n.includes('.staging-')), 'the killed write\'s staging folder is cleaned up');
});

test('resume: a second run into the same --out while the first trains is refused (E_OUT_BUSY)', async () => {
  const out = path.join(tmpDir(), 'busy');
  const o = { ...base, epochs: 5000, fineTuneEpochs: 1, out };
  const first = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(o)], { stdio: 'ignore' });
  const exited = new Promise((r) => first.on('exit', r));
  const state = path.join(`${out}.checkpoint`, 'resume', 'state.json');
  while (first.exitCode === null && !fs.existsSync(state)) await new Promise((r) => setTimeout(r, 5));
  const second = run(o).out!;
  assert.equal(first.exitCode, null, 'the first run should still be training');
  assert.equal(second.code, 'E_OUT_BUSY', JSON.stringify(second));
  assert.match(second.message!, new RegExp(`Another Graft process \\(${first.pid}@`));
  first.kill('SIGKILL');
  await exited;
  assert.ok(fs.existsSync(state), 'the refused run left the first one\'s checkpoint alone');
});

test('resume: --resume refuses a checkpoint of other options or data, and having none; --restart starts over; a damaged one is reported', () => {
  const out = path.join(tmpDir(), 'refuse');
  const o = { ...base, out };
  assert.equal(run(o, ['head', 2, 1]).signal, 'SIGKILL');
  const other = run({ ...o, lr: 0.01, resume: true }).out!;
  assert.equal(other.code, 'E_RESUME_MISMATCH');
  assert.match(other.message!, /lr: 0\.001 then, 0\.01 now/);
  // Without --resume a checkpoint of another run is named and replaced, never used.
  assert.equal(run({ ...o, seed: 4 }, ['head', 2, 1]).signal, 'SIGKILL');
  const back = run({ ...o, resume: true }).out!;
  assert.equal(back.code, 'E_RESUME_MISMATCH', 'the seed-4 run replaced the checkpoint');
  assert.match(back.message!, /seed: 4 then, 3 now/);
  // Damaged bytes: reported; --resume refuses, a plain rerun starts over and matches the reference.
  const bin = path.join(`${out}.checkpoint`, 'resume', 'state.bin');
  const b = fs.readFileSync(bin);
  b[100] ^= 0xff;
  fs.writeFileSync(bin, b);
  assert.equal(run({ ...o, seed: 4, resume: true }).out!.code, 'E_CHECKPOINT_DAMAGED');
  const fresh = run(o).out!;
  assert.ok(fresh.ok);
  assert.ok(fresh.messages.some((m) => /warning: .*damaged.*Starting over/.test(m)), fresh.messages.join(' | '));
  assert.ok(weights(out).equals(weights(reference)));
  assert.equal(run({ ...o, out: path.join(tmpDir(), 'none'), resume: true }).out!.code, 'E_RESUME_NONE');
  // --restart ignores a matching checkpoint.
  const out2 = path.join(tmpDir(), 'restart');
  assert.equal(run({ ...o, out: out2 }, ['fine-tune', 2, 1]).signal, 'SIGKILL');
  const rs = run({ ...o, out: out2, restart: true }).out!;
  assert.ok(rs.ok && !rs.messages.some((m) => /resuming/i.test(m)));
  assert.ok(weights(out2).equals(weights(reference)));
});
