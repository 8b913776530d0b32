import fs from 'node:fs';
import path from 'node:path';
import type { ModelRepository } from './repository.js';

/** What identifies a model directory's content: graft.json's and model.onnx's inode, size and mtime. */
function fingerprint(dir: string): string {
  return ['graft.json', 'model.onnx']
    .map((f) => {
      try {
        const s = fs.statSync(path.join(dir, f));
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

/**
 * Poll every served model's directory and reload a model when its directory changed and then
 * stayed the same for one more poll (a writer mid-copy is not loaded half-written; Graft's own
 * writes swap the whole directory in at once). Polling, not fs.watch: the directory is often
 * replaced by a rename, which inotify watches on the old one do not see. Returns the stop function.
 *
 * @example
 * const stop = watchModels(repo, 2000, app.log);
 */
export function watchModels(repo: ModelRepository, everyMs: number, log: { info(o: object, m: string): void; error(o: object, m: string): void }): () => void {
  const seen = new Map<string, string>();
  const pending = new Map<string, string>();
  for (const name of repo.names()) seen.set(name, fingerprint(repo.get(name).dir));
  const timer = setInterval(() => {
    for (const name of repo.names()) {
      const dir = repo.get(name).dir;
      const now = fingerprint(dir);
      if (!seen.has(name)) seen.set(name, now);
      if (now === seen.get(name)) {
        pending.delete(name);
        continue;
      }
      if (pending.get(name) !== now) {
        pending.set(name, now);
        continue;
      }
      pending.delete(name);
      seen.set(name, now);
      log.info({ model: name, dir }, 'model directory changed: reloading');
      repo.load(name, dir).catch((e) => log.error({ model: name, err: (e as Error).message }, 'reload after a change failed; the previous version stays served'));
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
