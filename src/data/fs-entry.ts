import fs from 'node:fs';

/** Whether `p` itself is a symbolic link (dangling or not). */
export function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** stat() following links, or why it cannot be done (a dangling link, no permission, …). */
export function statOrWhy(p: string): fs.Stats | string {
  try {
    return fs.statSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && isLink(p)) return 'dangling symbolic link (its target does not exist)';
    if (code === 'EACCES') return 'permission denied';
    return code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? (e as Error).message})`;
  }
}
