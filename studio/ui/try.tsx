import { useEffect, useRef, useState } from 'preact/hooks';
import { api, withToken } from './api';
import { project, say } from './state';
import { ShiftPanel } from './shift';
import { Webcam, frame } from './webcam';

interface Top {
  label: string;
  probability: number;
}

type Ort = typeof import('onnxruntime-web');
let ortLoaded: Promise<Ort> | undefined;
/** onnxruntime-web from this server (/ort/), single-threaded wasm: no CDN, no cross-origin isolation needed. */
function ort(): Promise<Ort> {
  const url = '/ort/ort.wasm.min.mjs';
  ortLoaded ??= (import(/* webpackIgnore: true */ url) as Promise<Ort>).then((m) => {
    m.env.wasm.wasmPaths = '/ort/';
    m.env.wasm.numThreads = 1;
    return m;
  });
  return ortLoaded;
}

const sessions = new Map<string, Promise<{ session: import('onnxruntime-web').InferenceSession; manifest: { classes: string[]; inputSize: [number, number]; resize: 'crop' | 'squash' } }>>();
function modelOf(version: string) {
  let s = sessions.get(version);
  if (!s) {
    s = (async () => {
      const o = await ort();
      const [bytes, manifest] = await Promise.all([fetch(withToken(`/api/versions/${version}/model.onnx`)).then((r) => r.arrayBuffer()), api(`/api/versions/${version}/graft.json`)]);
      return { session: await o.InferenceSession.create(new Uint8Array(bytes), { executionProviders: ['wasm'] }), manifest };
    })();
    sessions.set(version, s);
  }
  return s;
}

/** The image as the model's raw RGB input: shorter side resized, centre-cropped (graft.json's `resize`), as graft predict decodes. */
function pixels(img: ImageBitmap, [h, w]: [number, number], fit: 'crop' | 'squash'): Float32Array {
  const c = new OffscreenCanvas(w, h);
  const g = c.getContext('2d')!;
  g.fillStyle = '#fff';
  g.fillRect(0, 0, w, h);
  g.imageSmoothingEnabled = true;
  g.imageSmoothingQuality = 'medium';
  if (fit === 'squash') g.drawImage(img, 0, 0, w, h);
  else {
    const s = Math.max(w / img.width, h / img.height);
    const sw = w / s;
    const sh = h / s;
    g.drawImage(img, (img.width - sw) / 2, (img.height - sh) / 2, sw, sh, 0, 0, w, h);
  }
  const d = g.getImageData(0, 0, w, h).data;
  const x = new Float32Array(h * w * 3);
  for (let i = 0; i < h * w; i++) {
    x[i * 3] = d[i * 4]!;
    x[i * 3 + 1] = d[i * 4 + 1]!;
    x[i * 3 + 2] = d[i * 4 + 2]!;
  }
  return x;
}

export async function classifyInPage(version: string, file: Blob): Promise<Top[]> {
  const o = await ort();
  const { session, manifest } = await modelOf(version);
  const bmp = await createImageBitmap(file);
  const x = pixels(bmp, manifest.inputSize, manifest.resize);
  const out = await session.run({ [session.inputNames[0]!]: new o.Tensor('float32', x, [1, manifest.inputSize[0], manifest.inputSize[1], 3]) });
  const p = Array.from(out[session.outputNames[0]!]!.data as Float32Array);
  return p.map((probability, i) => ({ label: manifest.classes[i]!, probability })).sort((a, b) => b.probability - a.probability);
}

export function TryPage() {
  const versions = project.value?.versions ?? [];
  const [version, setVersion] = useState<string | undefined>();
  const [via, setVia] = useState<'page' | 'server'>('page');
  const [src, setSrc] = useState<string | undefined>();
  const [top, setTop] = useState<Top[] | undefined>();
  const [ms, setMs] = useState<number | undefined>();
  const v = version ?? versions.at(-1)?.version;
  const last = useRef<Blob | undefined>(undefined);
  const [cam, setCam] = useState(false);
  const video = useRef<HTMLVideoElement | undefined>(undefined);
  // Live: classify a frame, then the next one as soon as that is done (in the page, so no queue builds up).
  useEffect(() => {
    if (!cam || !v) return;
    let on = true;
    const loop = async () => {
      while (on) {
        if (video.current && video.current.videoWidth) {
          const f = await frame(video.current, 'frame.jpg');
          const t0 = performance.now();
          const fd = new FormData();
          fd.append('image', f, 'frame.jpg');
          const t = await (via === 'page' ? classifyInPage(v, f) : api<{ top: Top[] }>(`/api/try?via=${v}`, { method: 'POST', body: fd }).then((r) => r.top)).catch(() => undefined);
          if (t && on) {
            setTop(t);
            setMs(performance.now() - t0);
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    void loop();
    return () => {
      on = false;
    };
  }, [cam, v, via]);

  const run = async (file: Blob) => {
    last.current = file;
    setSrc(URL.createObjectURL(file));
    setTop(undefined);
    const t0 = performance.now();
    try {
      if (via === 'server' || !v) {
        const fd = new FormData();
        fd.append('image', file, 'try.png');
        const r = await api<{ top: Top[] }>(`/api/try?via=${v ?? 'prototype'}`, { method: 'POST', body: fd });
        setTop(r.top);
      } else setTop(await classifyInPage(v, file));
      setMs(performance.now() - t0);
    } catch (e) {
      say((e as Error).message);
    }
  };
  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const f = e.clipboardData?.files[0];
      if (f) void run(f);
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, [v, via]);

  return (
    <div class="page try">
      <div class="toolbar">
        <h2>Try</h2>
        <select value={v} onChange={(e) => setVersion((e.target as HTMLSelectElement).value)}>
          {versions.map((x) => <option value={x.version}>{x.version}</option>)}
        </select>
        <label class="btn">Choose image<input type="file" accept="image/*" hidden onChange={(e) => {
          const f = (e.target as HTMLInputElement).files?.[0];
          if (f) void run(f);
        }} data-testid="try-file" /></label>
        {v && <button onClick={() => { setCam(!cam); setSrc(undefined); setTop(undefined); }} data-testid="try-webcam">{cam ? 'Stop webcam' : 'Live webcam'}</button>}
        <label><input type="checkbox" checked={via === 'server'} onChange={(e) => setVia((e.target as HTMLInputElement).checked ? 'server' : 'page')} /> classify on the server</label>
      </div>
      {!v && <p class="muted">No version yet: the server's prototype head answers until you train one.</p>}
      <div class="two">
        <div class="shot">{cam ? <Webcam onVideo={(el) => (video.current = el)} /> : src ? <img src={src} alt="the image tried" /> : <div class="drop">Choose or paste an image</div>}</div>
        <div>
          {top && (
            <div class="topk" data-testid="topk" data-top={top[0]?.label}>
              {top.slice(0, 5).map((t) => (
                <div class="bar">
                  <span>{t.label}</span>
                  <progress max={1} value={t.probability} />
                  <em>{(t.probability * 100).toFixed(1)}%</em>
                </div>
              ))}
              <p class="muted small">{via === 'page' && v ? `onnxruntime-web in this page, ${v}/model.onnx` : 'on the server'}{ms !== undefined ? ` · ${ms.toFixed(0)} ms` : ''}</p>
            </div>
          )}
        </div>
      </div>
      {v && <ShiftPanel version={v} />}
      {v && (
        <section class="export">
          <h3>Export {v}</h3>
          <p><a class="btn primary" href={withToken(`/api/versions/${v}/export.zip`)} download data-testid="export">Download {v}.zip</a> — the model directory: graft.json, model.onnx, model.json + weights.bin (TF.js), report.html.</p>
          <pre>{`# onnxruntime-node (raw RGB 0–255, NHWC ${'[1, h, w, 3]'}; preprocessing is inside the graph)
const s = await ort.InferenceSession.create('model.onnx');
const out = await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', rgb, [1, h, w, 3]) });

# onnxruntime-web: the same, with import * as ort from 'onnxruntime-web'

# TF.js
const m = await tf.loadLayersModel('model.json');   // input: RGB / 255 for the nsfwjs weights

# graft
graft predict ${project.value?.root}/.graft/models/${v} photo.jpg
graft serve ${project.value?.root}/.graft/models/${v}`}</pre>
        </section>
      )}
    </div>
  );
}
