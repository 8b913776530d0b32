import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { GraftError } from '../errors.js';
import { IMAGE_EXTENSIONS, isImagePath } from '../data/dataset.js';

/**
 * A studio project is plain files: one sub-folder per class (exactly what `graft train` reads)
 * and `.graft/` for what the studio keeps — the unlabelled inbox, thumbnails, model versions and
 * the trash. `graft train` skips `.graft/` as a hidden folder, so the CLI sees only the classes.
 * Nothing the user added is deleted: "delete" moves into `.graft/trash/` and can be restored.
 */

/** The pseudo-class of images not labelled yet (kept in `.graft/inbox/`). */
export const INBOX = '_inbox';

/** One image: `id` is its path relative to the project root, POSIX separators. */
export interface ImageEntry {
  id: string;
  name: string;
  /** Its class, or null for the inbox. */
  label: string | null;
  bytes: number;
}

export interface TrashEntry {
  id: string;
  /** Where it was, relative to the project root. */
  from: string;
  kind: 'image' | 'class';
  at: string;
}

const MAX_NAME = 120;

/**
 * A class or file name from a request: one path segment, printable, not hidden. Refusing a
 * separator (or `..`) here is what keeps every later `path.join` inside the project.
 */
export function checkName(name: unknown, what: 'class' | 'file'): string {
  const s = typeof name === 'string' ? name.normalize('NFC').trim() : '';
  const why =
    s === '' ? 'it is empty'
    : s.length > MAX_NAME ? `it is longer than ${MAX_NAME} characters`
    : /[/\\]/.test(s) ? 'it holds a path separator (/ or \\)'
    : s === '.' || s === '..' || s.startsWith('.') ? 'it starts with a dot (hidden, or a parent folder)'
    : /[\u0000-\u001f\u007f]/.test(s) ? 'it holds a control character'
    : what === 'class' && s === INBOX ? `"${INBOX}" is the name of the unlabelled inbox`
    : undefined;
  if (why) throw new GraftError('E_STUDIO_BAD_NAME', `The ${what} name is refused: ${why}. Received: ${JSON.stringify(String(name)).slice(0, 200)}.`, 'Use a single folder-name-like word, e.g. "cat" or "red_sneaker".');
  return s;
}

export class Project {
  readonly root: string;
  readonly meta: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.meta = path.join(this.root, '.graft');
    for (const d of ['inbox', 'trash', 'thumbs', 'models']) fs.mkdirSync(path.join(this.meta, d), { recursive: true });
  }

  get inboxDir(): string {
    return path.join(this.meta, 'inbox');
  }

  /** Class folders, sorted (the order `graft train` gives them). */
  classes(): { name: string; count: number }[] {
    return fs
      .readdirSync(this.root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort()
      .map((name) => ({ name, count: this.imageNames(path.join(this.root, name)).length }));
  }

  private classDir(name: string, mustExist = true): string {
    const n = checkName(name, 'class');
    const dir = path.join(this.root, n);
    if (mustExist && !fs.existsSync(dir)) throw new GraftError('E_STUDIO_NOT_FOUND', `No class "${n}" in ${this.root}.`, `Should be one of: ${this.classes().map((c) => c.name).join(', ') || '(none yet)'}`);
    return dir;
  }

  /** The folder of a label: a class folder, or the inbox for null / INBOX. */
  dirOf(label: string | null): string {
    return label === null || label === INBOX ? this.inboxDir : this.classDir(label);
  }

  createClass(name: string): string {
    const dir = this.classDir(name, false);
    if (fs.existsSync(dir)) throw new GraftError('E_STUDIO_EXISTS', `The class "${path.basename(dir)}" already exists.`);
    fs.mkdirSync(dir);
    return path.basename(dir);
  }

  renameClass(from: string, to: string): string {
    const src = this.classDir(from);
    const dst = this.classDir(to, false);
    if (fs.existsSync(dst)) throw new GraftError('E_STUDIO_EXISTS', `The class "${path.basename(dst)}" already exists.`, 'Pick another name, or move the images one by one.');
    fs.renameSync(src, dst);
    return path.basename(dst);
  }

  /** Move a whole class folder (its images with it) into the trash. */
  deleteClass(name: string): TrashEntry {
    const dir = this.classDir(name);
    return this.toTrash(dir, 'class');
  }

  private imageNames(dir: string): string[] {
    try {
      return fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && !e.name.startsWith('.') && isImagePath(e.name)).map((e) => e.name).sort();
    } catch {
      return [];
    }
  }

  /** Images of a class (or the inbox), sorted by name, `limit` from `offset`. */
  images(label: string | null, offset = 0, limit = Infinity): { total: number; images: ImageEntry[] } {
    const dir = this.dirOf(label);
    const names = this.imageNames(dir);
    const page = names.slice(offset, offset + limit);
    return {
      total: names.length,
      images: page.map((name) => {
        const abs = path.join(dir, name);
        return { id: this.idOf(abs), name, label: label === INBOX ? null : label, bytes: fs.statSync(abs).size };
      }),
    };
  }

  /** Every labelled image as { path, label } (what `graft train` on the root would read). */
  labelled(): { path: string; label: string }[] {
    return this.classes().flatMap((c) => this.imageNames(path.join(this.root, c.name)).map((n) => ({ path: path.join(this.root, c.name, n), label: c.name })));
  }

  idOf(abs: string): string {
    return path.relative(this.root, abs).split(path.sep).join('/');
  }

  /**
   * The absolute path of an image id, which must be `<class>/<file>` or `.graft/inbox/<file>`:
   * anything else (`..`, absolute paths, deeper folders, the trash) is refused.
   */
  resolveImage(id: unknown): { abs: string; label: string | null } {
    const parts = typeof id === 'string' ? id.split('/') : [];
    let abs: string | undefined;
    let label: string | null = null;
    if (parts.length === 3 && parts[0] === '.graft' && parts[1] === 'inbox') abs = path.join(this.inboxDir, checkName(parts[2], 'file'));
    else if (parts.length === 2) {
      label = checkName(parts[0], 'class');
      abs = path.join(this.root, label, checkName(parts[1], 'file'));
    } else throw new GraftError('E_STUDIO_BAD_NAME', `An image id is "<class>/<file>" or ".graft/inbox/<file>". Received: ${JSON.stringify(String(id)).slice(0, 200)}.`);
    if (!fs.existsSync(abs) || !fs.statSync(abs).isFile()) throw new GraftError('E_STUDIO_NOT_FOUND', `No image ${id} in the project.`);
    return { abs, label };
  }

  /**
   * Store uploaded bytes as a new image of `label` (null: the inbox). The name is reduced to a
   * checked single segment with an image extension; an existing name gets a numbered sibling,
   * so an upload never overwrites a file.
   */
  addImage(label: string | null, fileName: string, bytes: Uint8Array): ImageEntry {
    const name = checkName(fileName, 'file');
    const ext = path.extname(name).toLowerCase();
    if (!IMAGE_EXTENSIONS.has(ext)) throw new GraftError('E_STUDIO_BAD_NAME', `"${name}" is not an image name Graft reads (extension "${ext || '(none)'}").`, `Should end in one of: ${[...IMAGE_EXTENSIONS].join(' ')}`);
    const dir = this.dirOf(label);
    const dst = freeName(dir, name);
    // Write beside, then link into place: a crash leaves no half image in a class folder, and
    // linkSync fails rather than overwrite a file that appeared meanwhile.
    const tmp = path.join(this.meta, `.upload-${crypto.randomUUID()}`);
    fs.writeFileSync(tmp, bytes);
    try {
      fs.linkSync(tmp, dst);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    return { id: this.idOf(dst), name: path.basename(dst), label: label === INBOX ? null : label, bytes: bytes.length };
  }

  /** Relabel: move an image into another class (or the inbox); returns its new entry. */
  moveImage(id: string, to: string | null): ImageEntry {
    const { abs } = this.resolveImage(id);
    const dir = this.dirOf(to);
    if (path.dirname(abs) === dir) return { id, name: path.basename(abs), label: to === INBOX ? null : to, bytes: fs.statSync(abs).size };
    const dst = freeName(dir, path.basename(abs));
    fs.renameSync(abs, dst);
    return { id: this.idOf(dst), name: path.basename(dst), label: to === INBOX ? null : to, bytes: fs.statSync(dst).size };
  }

  deleteImage(id: string): TrashEntry {
    return this.toTrash(this.resolveImage(id).abs, 'image');
  }

  private toTrash(abs: string, kind: TrashEntry['kind']): TrashEntry {
    const tid = `${Date.now().toString(36)}-${crypto.randomBytes(4).toString('hex')}`;
    const slot = path.join(this.meta, 'trash', tid);
    fs.mkdirSync(slot);
    const entry: TrashEntry = { id: tid, from: this.idOf(abs), kind, at: new Date().toISOString() };
    fs.writeFileSync(path.join(slot, 'entry.json'), JSON.stringify(entry));
    fs.renameSync(abs, path.join(slot, path.basename(abs)));
    return entry;
  }

  trash(): TrashEntry[] {
    const dir = path.join(this.meta, 'trash');
    return fs
      .readdirSync(dir)
      .flatMap((t) => {
        try {
          return [JSON.parse(fs.readFileSync(path.join(dir, t, 'entry.json'), 'utf8')) as TrashEntry];
        } catch {
          return [];
        }
      })
      .sort((a, b) => b.at.localeCompare(a.at));
  }

  /**
   * Put a trashed image or class back where it was. A name taken meanwhile gets a numbered
   * sibling (an image) or the restored images join the class that now holds the name.
   */
  restore(trashId: string): { restored: string[] } {
    if (!/^[a-z0-9]+-[0-9a-f]{8}$/.test(trashId)) throw new GraftError('E_STUDIO_NOT_FOUND', `No trash entry ${JSON.stringify(trashId).slice(0, 80)}.`);
    const slot = path.join(this.meta, 'trash', trashId);
    const file = path.join(slot, 'entry.json');
    if (!fs.existsSync(file)) throw new GraftError('E_STUDIO_NOT_FOUND', `No trash entry ${trashId}.`, 'GET /api/trash lists them.');
    const e = JSON.parse(fs.readFileSync(file, 'utf8')) as TrashEntry;
    const held = path.join(slot, path.basename(e.from));
    const target = path.join(this.root, ...e.from.split('/'));
    const restored: string[] = [];
    if (e.kind === 'class' && fs.existsSync(target)) {
      for (const n of fs.readdirSync(held)) {
        const dst = freeName(target, n);
        fs.renameSync(path.join(held, n), dst);
        restored.push(this.idOf(dst));
      }
    } else {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const dst = e.kind === 'image' ? freeName(path.dirname(target), path.basename(target)) : target;
      fs.renameSync(held, dst);
      restored.push(this.idOf(dst));
    }
    fs.rmSync(slot, { recursive: true, force: true });
    return { restored };
  }
}

/** `name` in `dir`, or `name-1`, `name-2`, … when taken. */
function freeName(dir: string, name: string): string {
  const ext = path.extname(name);
  const stem = name.slice(0, name.length - ext.length);
  for (let i = 0; ; i++) {
    const p = path.join(dir, i === 0 ? name : `${stem}-${i}${ext}`);
    if (!fs.existsSync(p)) return p;
  }
}
