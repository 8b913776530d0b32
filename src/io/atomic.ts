import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

/**
 * Write a file so that readers see either the old content or the new one, never a torn file:
 * a temporary file in the same folder, fsync, then rename over the target.
 *
 * @example
 * await atomicWrite('out/graft.json', JSON.stringify(manifest, null, 2));
 */
export async function atomicWrite(target: string, data: string | Uint8Array): Promise<void> {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.promises.rename(tmp, target);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

/** Synchronous twin of {@link atomicWrite} for exit paths. */
export function atomicWriteSync(target: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  writeSyncedFile(tmp, data);
  fs.renameSync(tmp, target);
}

/** Write `data` to `file` and fsync it before returning (the file itself is not swapped in atomically). */
export function writeSyncedFile(file: string, data: string | Uint8Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replace a whole directory at once: the caller fills a staging folder beside `target`, then this
 * swaps it in. If anything fails before the swap, `target` is untouched.
 */
export async function withStagedDir<T>(target: string, fill: (staging: string) => Promise<T>): Promise<T> {
  const parent = path.dirname(path.resolve(target));
  fs.mkdirSync(parent, { recursive: true });
  // mkdir (not mkdtemp, which makes it 0700) so the directory gets the umask's mode like any
  // other file: a server running as another user must be able to read a model directory.
  removeStaleStaging(parent, path.basename(target));
  const staging = path.join(parent, `.${path.basename(target)}.staging-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
  fs.mkdirSync(staging);
  try {
    const r = await fill(staging);
    if (fs.existsSync(target)) {
      const old = `${staging}.old`;
      fs.renameSync(target, old);
      fs.renameSync(staging, target);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(staging, target);
    }
    return r;
  } catch (e) {
    fs.rmSync(staging, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Staging folders of `base` left by a process that no longer runs (killed mid-write): removed.
 * Each carries its writer's pid, so a live writer's folder is never touched.
 */
export function removeStaleStaging(parent: string, base: string): string[] {
  const re = new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.staging-(\\d+)-[0-9a-f]+(\\.old)?$`);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(parent);
  } catch {
    return removed;
  }
  for (const n of names) {
    const m = re.exec(n);
    if (!m || alive(Number(m[1]))) continue;
    fs.rmSync(path.join(parent, n), { recursive: true, force: true });
    removed.push(n);
  }
  return removed;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
