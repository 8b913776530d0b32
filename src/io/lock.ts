import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * An exclusive lock between processes (and between callers in one process) on one cache entry:
 * a lock file created with O_EXCL holding the owner's pid and host. A lock whose owner no longer
 * runs on this host (killed with kill -9) is stale and taken over. Used so that two Graft
 * processes sharing GRAFT_HOME never compute the same cache entry at the same time: the second
 * waits, then finds the first one's result.
 *
 * Limits: the staleness check trusts pids (a recycled pid holding a stale lock is waited on
 * until `staleMs`), and a lock on another host is judged by age alone.
 */
export interface LockOptions {
  /** Told once, when the lock is held by another process: its pid. */
  onWait?: (holder: string) => void;
  /** How often to look again (default 100 ms). */
  pollMs?: number;
  /** A lock file older than this is stale whatever its owner (default 6 hours). */
  staleMs?: number;
  /** Instead of waiting for a live owner, throw what this returns (given the owner). */
  busy?: (holder: string) => Error;
}

const queues = new Map<string, Promise<unknown>>();

/** Run `fn` holding the lock `file` (created beside the entry it guards). */
export async function withLock<T>(file: string, fn: () => Promise<T>, o: LockOptions = {}): Promise<T> {
  const key = path.resolve(file);
  // In-process callers queue here: the lock file says "this pid", which cannot tell them apart.
  const prev = queues.get(key) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => (done = r));
  const tail = prev.then(() => mine);
  queues.set(key, tail);
  await prev;
  try {
    await acquire(key, o);
    try {
      return await fn();
    } finally {
      release(key);
    }
  } finally {
    done();
    if (queues.get(key) === tail) queues.delete(key);
  }
}

const token = () => `${process.pid}@${os.hostname()}`;

async function acquire(file: string, o: LockOptions): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let told = false;
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx');
      fs.writeSync(fd, `${token()}\n`);
      fs.closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readHolder(file);
    if (holder === undefined) continue; // removed meanwhile: try again at once
    if (isStale(file, holder, o.staleMs ?? 6 * 3600_000)) {
      // Rename first: of two processes that both judge it stale, only one moves this file.
      const aside = `${file}.stale-${process.pid}`;
      try {
        fs.renameSync(file, aside);
        fs.rmSync(aside, { force: true });
      } catch {
        /* someone else took it over */
      }
      continue;
    }
    if (o.busy) throw o.busy(holder);
    if (!told) {
      o.onWait?.(holder);
      told = true;
    }
    await new Promise((r) => setTimeout(r, o.pollMs ?? 100));
  }
}

function readHolder(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function isStale(file: string, holder: string, staleMs: number): boolean {
  const [pid, host] = holder.split('@');
  if (age(file) > staleMs) return true;
  if (host !== os.hostname()) return false;
  const n = Number(pid);
  // Empty: the owner is between creating the file and writing its pid (or died there).
  if (!holder) return age(file) > 10_000;
  if (!Number.isInteger(n) || n <= 0) return true; // foreign content
  if (n === process.pid) return true; // left by an earlier life of this pid; this process queues in memory
  try {
    process.kill(n, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function age(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function release(file: string): void {
  if (readHolder(file) === token()) fs.rmSync(file, { force: true });
}
