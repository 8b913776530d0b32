// Two processes sharing GRAFT_HOME: a cache entry is computed once (the second waits for the
// first and reads its rows), a lock left by a killed process is taken over, and a kill during
// a long extraction keeps what was written so far.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withLock } from '../../src/io/lock.js';
import { DEMO, tmpDir } from '../workflow/fixtures.js';

const CHILD = fileURLToPath(new URL('./lock-child.ts', import.meta.url));
const images = ['Bag', 'Sneaker'].flatMap((c) => fs.readdirSync(path.join(DEMO, 'train', c)).sort().slice(0, 8).map((f) => path.join(DEMO, 'train', c, f)));

function child(cache: string, flushEveryMs = 30_000) {
  const p = spawn(process.execPath, ['--import', 'tsx', CHILD, cache, String(flushEveryMs), ...images], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  const done = new Promise<{ code: number | null; out: string; err: string }>((r) => p.on('exit', (code) => r({ code, out, err })));
  return { p, done };
}

test('withLock: callers in one process take turns', async () => {
  const file = path.join(tmpDir(), 'x.lock');
  const log: string[] = [];
  const job = (name: string) => withLock(file, async () => {
    log.push(`${name}+`);
    await new Promise((r) => setTimeout(r, 30));
    log.push(`${name}-`);
    return name;
  });
  assert.deepEqual(await Promise.all([job('a'), job('b'), job('c')]), ['a', 'b', 'c']);
  assert.deepEqual(log, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
  assert.ok(!fs.existsSync(file), 'the lock file is removed when released');
  await assert.rejects(withLock(file, async () => { throw new Error('boom'); }), /boom/);
  assert.ok(!fs.existsSync(file), 'released after a failure too');
});

test('withLock: a lock whose owner was killed is taken over; a live owner is waited for', async () => {
  const file = path.join(tmpDir(), 'y.lock');
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  fs.writeFileSync(file, `${dead}@${(await import('node:os')).hostname()}\n`);
  let waited = '';
  assert.equal(await withLock(file, async () => 'ran', { onWait: (h) => (waited = h) }), 'ran');
  assert.equal(waited, '', 'a dead owner is not waited for');
  // A live owner (a sleeping child holding the lock) is waited for, and named.
  const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `import { withLock } from ${JSON.stringify(path.resolve('src/io/lock.ts'))}; await withLock(${JSON.stringify(file)}, async () => { process.stdout.write('held'); await new Promise((r) => setTimeout(r, 800)); });`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
  const t0 = Date.now();
  await withLock(file, async () => {}, { onWait: (h) => (waited = h), pollMs: 20 });
  assert.ok(Date.now() - t0 >= 300, 'did not wait for the live owner');
  assert.match(waited, new RegExp(`^${holder.pid}@`));
});

test('two processes sharing a cache compute each entry once: the second waits and reads the first one\'s rows', async () => {
  const cache = tmpDir('graft-cache-');
  const [a, b] = [child(cache), child(cache)];
  const [ra, rb] = await Promise.all([a.done, b.done]);
  assert.equal(ra.code, 0, ra.err);
  assert.equal(rb.code, 0, rb.err);
  const [ja, jb] = [JSON.parse(ra.out), JSON.parse(rb.out)];
  assert.equal(ja.computed + jb.computed, images.length, `computed ${ja.computed} + ${jb.computed}: some images ran twice`);
  assert.deepEqual(ja.rows, jb.rows, 'both processes see the same rows');
  assert.match(ra.err + rb.err, /Waiting for another Graft process \(\d+@/);
});

test('a kill -9 in the middle of a long extraction keeps the rows written so far; the rerun computes only the rest', async () => {
  const cache = tmpDir('graft-cache-');
  const c = child(cache, 0);
  const feat = path.join(cache, 'features');
  // Kill once some rows are on disk (the cache file appears after the first write).
  while (c.p.exitCode === null && !(fs.existsSync(feat) && fs.readdirSync(feat).some((f) => f.endsWith('.feat')))) await new Promise((r) => setTimeout(r, 10));
  c.p.kill('SIGKILL');
  await c.done;
  const again = await child(cache).done;
  assert.equal(again.code, 0, again.err);
  const { computed } = JSON.parse(again.out);
  assert.ok(computed < images.length, `the rerun computed all ${computed} images again`);
  assert.ok(computed > 0, 'the kill came after the whole extraction (test did not interrupt anything)');
  assert.doesNotMatch(again.err, /Waiting/, 'the dead process\'s lock was taken over without waiting');
});
