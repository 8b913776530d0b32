import { useEffect, useRef, useState } from 'preact/hooks';
import { api, uploadFiles, type ImageInfo } from './api';
import { project, preview, refresh, say, dataVersion } from './state';
import { Grid } from './grid';
import { Webcam, frame } from './webcam';

const INBOX = '_inbox';
const TRASH = '_trash';

interface TrashEntry {
  id: string;
  from: string;
  kind: 'image' | 'class';
  at: string;
}

/** The trash: what was deleted, newest first, each restorable to where it was. */
function TrashList(props: { onChange: () => void }) {
  const [entries, setEntries] = useState<TrashEntry[]>([]);
  const load = () => api<{ entries: TrashEntry[] }>('/api/trash').then((r) => setEntries(r.entries));
  useEffect(() => void load(), []);
  if (!entries.length) return <div class="drop">The trash is empty. Deleted images and classes wait here (in <code>.graft/trash/</code>) until restored.</div>;
  return (
    <table class="versions trash">
      <thead><tr><th>Deleted</th><th>What</th><th>From</th><th></th></tr></thead>
      <tbody>
        {entries.map((e) => (
          <tr data-trash={e.id}>
            <td>{new Date(e.at).toLocaleString()}</td>
            <td>{e.kind}</td>
            <td><code>{e.from}</code></td>
            <td><button onClick={async () => {
              await api(`/api/trash/${e.id}/restore`, { method: 'POST' });
              say(`Restored ${e.from}`);
              await load();
              props.onChange();
            }}>Restore</button></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Every file in a drop, folders walked (webkitGetAsEntry), so a whole folder can be dropped. */
async function droppedFiles(dt: DataTransfer): Promise<File[]> {
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry?.()).filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return [...dt.files];
  const out: File[] = [];
  const walk = async (e: FileSystemEntry): Promise<void> => {
    if (e.isFile) out.push(await new Promise<File>((res, rej) => (e as FileSystemFileEntry).file(res, rej)));
    else if (e.isDirectory) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const b of batch) await walk(b);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

export function DataPage() {
  const p = project.value;
  const [label, setLabel] = useState<string>(INBOX);
  const [images, setImages] = useState<ImageInfo[]>([]);
  const [sel, setSel] = useState(-1);
  const [newClass, setNewClass] = useState('');
  const [busy, setBusy] = useState('');
  const [guessed, setGuessed] = useState<{ by: string | null; pending: number } | undefined>();
  const [cam, setCam] = useState(false);
  const video = useRef<HTMLVideoElement | undefined>(undefined);
  const burst = useRef<{ timer: number; files: Promise<File>[] } | undefined>(undefined);
  // Hold to capture: a frame every 150 ms while the button is held, uploaded when released.
  const holdStart = () => {
    if (!video.current || burst.current) return;
    const b = { timer: 0, files: [] as Promise<File>[] };
    const grab = () => video.current && b.files.push(frame(video.current, `webcam-${Date.now()}-${b.files.length}.jpg`));
    grab();
    b.timer = window.setInterval(grab, 150);
    burst.current = b;
    setBusy('Capturing…');
  };
  const holdEnd = async () => {
    const b = burst.current;
    if (!b) return;
    burst.current = undefined;
    clearInterval(b.timer);
    await add(await Promise.all(b.files));
  };
  const classes = p?.classes ?? [];

  const load = async () => {
    if (label === TRASH) return setImages([]);
    const all: ImageInfo[] = [];
    let by: { by: string | null; pending: number } | undefined;
    for (let offset = 0; ; offset += 5000) {
      const r = await api<{ total: number; images: ImageInfo[]; guessedBy?: string | null; pending?: number }>(`/api/images?label=${encodeURIComponent(label)}&offset=${offset}&limit=5000`);
      all.push(...r.images);
      if (r.guessedBy !== undefined) by = { by: r.guessedBy, pending: (by?.pending ?? 0) + (r.pending ?? 0) };
      if (all.length >= r.total || r.images.length === 0) break;
    }
    setImages(all);
    setGuessed(by);
  };
  useEffect(() => {
    void load();
  }, [label, dataVersion.value, p?.versions.at(-1)?.version]);
  // The latest version's guesses are computed on the server in the background: fetch again until all are in.
  useEffect(() => {
    if (!guessed?.pending || label !== INBOX) return;
    const t = setTimeout(() => void load(), 1000);
    return () => clearTimeout(t);
  }, [guessed, label]);
  useEffect(() => {
    if (label !== INBOX && label !== TRASH && !classes.some((c) => c.name === label)) setLabel(INBOX);
  }, [classes.map((c) => c.name).join('/')]);

  const add = async (files: File[]) => {
    if (!files.length) return;
    setBusy(`Uploading ${files.length} files…`);
    try {
      const r = await uploadFiles(label === TRASH ? INBOX : label, files, (n) => setBusy(`Uploading ${n}/${files.length}…`));
      say(`Added ${r.added} image(s) to ${label === INBOX || label === TRASH ? 'the inbox' : label}${r.failed.length ? `; refused ${r.failed.length}: ${r.failed[0]!.name}: ${r.failed[0]!.error}` : ''}`);
    } catch (e) {
      say((e as Error).message);
    } finally {
      setBusy('');
      await refresh();
      await load();
    }
  };

  const move = async (ids: string[], to: string) => {
    await api('/api/images/move', { method: 'POST', json: { ids, to } });
    say(`Moved ${ids.length} image(s) to ${to === INBOX ? 'the inbox' : to}`);
    await refresh();
    await load();
  };
  const trash = async (ids: string[]) => {
    await api('/api/images/delete', { method: 'POST', json: { ids } });
    say(`Moved ${ids.length} image(s) to .graft/trash (restorable)`);
    await refresh();
    await load();
  };

  // Keyboard: arrows move, 1–9 label the selected image with that class, Delete trashes, Enter confirms the inbox guess.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.target as HTMLElement).tagName === 'INPUT') return;
      const cur = images[sel];
      const cols = Math.max(1, Math.floor((document.querySelector('.grid')?.clientWidth ?? 800) / 136));
      if (e.key === 'ArrowRight') setSel(Math.min(images.length - 1, sel + 1));
      else if (e.key === 'ArrowLeft') setSel(Math.max(0, sel - 1));
      else if (e.key === 'ArrowDown') setSel(Math.min(images.length - 1, sel + cols));
      else if (e.key === 'ArrowUp') setSel(Math.max(0, sel - cols));
      else if (cur && /^[1-9]$/.test(e.key) && classes[Number(e.key) - 1]) void move([cur.id], classes[Number(e.key) - 1]!.name);
      else if (cur && (e.key === 'Delete' || e.key === 'Backspace')) void trash([cur.id]);
      else if (cur && e.key === 'Enter' && cur.guess) void move([cur.id], cur.guess.label);
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [images, sel, classes]);

  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const files = [...(e.clipboardData?.files ?? [])];
      if (files.length) void add(files.map((f, i) => new File([f], f.name && f.name !== 'image.png' ? f.name : `pasted-${Date.now()}-${i}.png`, { type: f.type })));
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, [label]);

  const cur = images[sel];
  const pv = preview.value;
  return (
    <div class="data" onDragOver={(e) => e.preventDefault()} onDrop={async (e) => {
      e.preventDefault();
      if (e.dataTransfer) await add(await droppedFiles(e.dataTransfer));
    }}>
      <aside>
        <h3>Classes</h3>
        <ul class="classes">
          <li class={label === INBOX ? 'on' : ''} onClick={() => setLabel(INBOX)} data-class={INBOX}>
            <span>Inbox (unlabelled)</span>
            <em>{p?.inbox ?? 0}</em>
          </li>
          {classes.map((c, i) => (
            <li class={label === c.name ? 'on' : ''} onClick={() => setLabel(c.name)} data-class={c.name}>
              <kbd>{i < 9 ? i + 1 : ''}</kbd>
              <span>{c.name}</span>
              <em>{c.count}</em>
            </li>
          ))}
          <li class={label === TRASH ? 'on' : ''} onClick={() => setLabel(TRASH)} data-class={TRASH}>
            <span>Trash</span>
          </li>
        </ul>
        <form class="newclass" onSubmit={async (e) => {
          e.preventDefault();
          try {
            await api('/api/classes', { method: 'POST', json: { name: newClass } });
            setLabel(newClass.trim());
            setNewClass('');
            await refresh();
          } catch (err) {
            say((err as Error).message);
          }
        }}>
          <input placeholder="New class…" value={newClass} onInput={(e) => setNewClass((e.target as HTMLInputElement).value)} name="newclass" />
          <button type="submit">Add</button>
        </form>
        {label !== INBOX && label !== TRASH && (
          <div class="classops">
            <button onClick={async () => {
              const to = prompt(`Rename "${label}" to`, label);
              if (!to || to === label) return;
              try {
                await api(`/api/classes/${encodeURIComponent(label)}`, { method: 'PATCH', json: { name: to } });
                setLabel(to);
                await refresh();
              } catch (err) {
                say((err as Error).message);
              }
            }}>Rename</button>
            <button class="danger" onClick={async () => {
              if (!confirm(`Move the class "${label}" and its images to the trash?`)) return;
              await api(`/api/classes/${encodeURIComponent(label)}`, { method: 'DELETE' });
              setLabel(INBOX);
              await refresh();
            }}>Delete</button>
          </div>
        )}
        <div class="preview" data-testid="preview">
          <h3>Instant model</h3>
          {pv?.ready ? (
            <p>
              Prototype head over <b>{pv.images}</b> embedded images of {pv.classes!.length} classes: <b class="acc">{((pv.fitAccuracy ?? 0) * 100).toFixed(0)}%</b> of them nearest their own class.
            </p>
          ) : (
            <p class="muted">Add images of two classes or more: each is embedded once and a prototype head labels the inbox.</p>
          )}
          <p class="muted small">Keys: ←↑→↓ select · 1–9 label · Enter accept guess · Del trash · paste or drop images and folders anywhere</p>
        </div>
      </aside>
      <section>
        <div class="toolbar">
          <h2>{label === INBOX ? 'Inbox' : label === TRASH ? 'Trash' : label}</h2>
          <label class="btn">Add images<input type="file" multiple accept="image/*,.tif,.tiff,.avif" hidden onChange={(e) => add([...((e.target as HTMLInputElement).files ?? [])])} data-testid="upload" /></label>
          <label class="btn">Add folder<input type="file" multiple hidden {...{ webkitdirectory: true }} data-testid="folder" onChange={(e) => add([...((e.target as HTMLInputElement).files ?? [])])} /></label>
          {label !== TRASH && <button onClick={() => setCam(!cam)} data-testid="webcam-toggle">{cam ? 'Close webcam' : 'Webcam'}</button>}
          {cam && <button class="primary" onPointerDown={holdStart} onPointerUp={holdEnd} onPointerLeave={holdEnd} data-testid="capture">Hold to capture</button>}
          {busy && <span class="muted">{busy}</span>}
          {label === INBOX && guessed?.by && images.length > 0 && (
            <span class="muted small" data-testid="guessed-by" data-by={guessed.by}>
              {guessed.by === 'prototype' ? 'Guesses: the instant prototype head' : `Guesses: ${guessed.by}'s model (model.onnx)`}
              {guessed.pending > 0 ? ` · ${guessed.pending} more on the way (the prototype head's guess meanwhile)` : ''}
            </span>
          )}
          {cur && (
            <span class="selops">
              {cur.name}
              <select onChange={(e) => void move([cur.id], (e.target as HTMLSelectElement).value)} value="">
                <option value="">Move to…</option>
                {classes.map((c) => <option value={c.name}>{c.name}</option>)}
                <option value={INBOX}>Inbox</option>
              </select>
              <button class="danger" onClick={() => trash([cur.id])}>Delete</button>
            </span>
          )}
        </div>
        {cam && label !== TRASH && <Webcam onVideo={(v) => (video.current = v)} />}
        {label === TRASH ? (
          <TrashList onChange={() => void refresh()} />
        ) : images.length === 0 ? (
          <div class="drop">Drop images or folders here, paste, or use “Add images”. Formats: JPEG, PNG, WebP, GIF, TIFF, AVIF.</div>
        ) : (
          <Grid images={images} selected={sel} onSelect={setSel} badge={(img) => img.guess && (
            <figcaption class={img.guess.confidence > 0.8 ? 'sure' : ''} onClick={(e) => {
              e.stopPropagation();
              void move([img.id], img.guess!.label);
            }} title={`Accept this label (guessed by ${img.guess.by === 'prototype' || !img.guess.by ? 'the prototype head' : `${img.guess.by}'s model`})`} data-by={img.guess.by}>
              {img.guess.label} {(img.guess.confidence * 100).toFixed(0)}% ✓
            </figcaption>
          )} />
        )}
      </section>
    </div>
  );
}
