import { useState } from 'preact/hooks';
import { api } from './api';
import { refresh, say } from './state';

interface Shift {
  /** The version the check ran through (the page may have moved on to a newer one since). */
  version: string;
  images: number;
  folder: string;
  cli: string;
  report: {
    verdict: string;
    rule: string;
    pValue: number;
    mmd: number;
    counts: { a: number; b: number };
    domainClassifierAccuracy: number;
    confidenceDrift?: { a: { meanMaxProb: number }; b: { meanMaxProb: number } };
  };
}

interface Adapted {
  version: string;
  from: string;
  method: string;
  seconds: number;
  cli: string;
  before: { meanMaxProb: number; fractionBelow: number; threshold: number };
  after: { meanMaxProb: number; fractionBelow: number; threshold: number };
  sourceAccuracy?: number;
}

const pc = (v: number) => `${(v * 100).toFixed(1)}%`;

/** Drop the deployment images: `graft shift` says whether they look like the training data. */
export function ShiftPanel(props: { version: string }) {
  const [r, setR] = useState<Shift | undefined>();
  const [busy, setBusy] = useState(false);
  const [adapting, setAdapting] = useState<string | undefined>();
  const [adapted, setAdapted] = useState<Adapted | undefined>();
  /** graft adapt on the folder just checked: a new version. */
  const adapt = async (method: 'adabn' | 'coral') => {
    if (!r) return;
    setAdapting(method);
    setAdapted(undefined);
    try {
      const a = await api<Adapted>(`/api/adapt?version=${r.version}&method=${method}&folder=${encodeURIComponent(r.folder)}`, { method: 'POST' });
      setAdapted(a);
      say(`${a.version}: ${a.from} adapted with ${a.method}`);
      await refresh();
    } catch (e) {
      say((e as Error).message);
    } finally {
      setAdapting(undefined);
    }
  };
  const run = async (files: File[]) => {
    const imgs = files.filter((f) => /\.(jpe?g|png|webp|gif|tiff?|avif)$/i.test(f.name));
    if (!imgs.length) return;
    setBusy(true);
    setR(undefined);
    setAdapted(undefined);
    try {
      const fd = new FormData();
      for (const f of imgs) fd.append('file', f, f.name);
      setR(await api<Shift>(`/api/shift?version=${props.version}`, { method: 'POST', body: fd }));
    } catch (e) {
      say((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const rep = r?.report;
  return (
    <section class="shift">
      <h3>Deployment check (graft shift)</h3>
      <p class="muted">Unlabelled images from where the model will run: are they distributed like the training images? (MMD test, a domain classifier, and {props.version}'s confidence on both.)</p>
      <div class="toolbar">
        <label class="btn">Choose deployment folder<input type="file" multiple hidden {...{ webkitdirectory: true }} onChange={(e) => run([...((e.target as HTMLInputElement).files ?? [])])} data-testid="shift-folder" /></label>
        <label class="btn">…or images<input type="file" multiple accept="image/*" hidden onChange={(e) => run([...((e.target as HTMLInputElement).files ?? [])])} data-testid="shift-files" /></label>
        {busy && <span class="muted">Embedding both folders…</span>}
      </div>
      {rep && (
        <div class="verdict" data-testid="shift-verdict">
          <b class={rep.verdict.startsWith('shift') ? 'bad' : 'good'}>{rep.verdict}</b>
          <ul>
            <li>MMD² {rep.mmd.toExponential(2)}, p = {rep.pValue.toFixed(3)} ({rep.counts.a} training vs {rep.counts.b} deployment images)</li>
            <li>domain classifier held-out accuracy {(rep.domainClassifierAccuracy * 100).toFixed(1)}% (50% = indistinguishable)</li>
            {rep.confidenceDrift && <li>{r!.version}'s mean confidence {(rep.confidenceDrift.a.meanMaxProb * 100).toFixed(1)}% on training images, {(rep.confidenceDrift.b.meanMaxProb * 100).toFixed(1)}% on deployment images</li>}
          </ul>
          <p class="muted small">{rep.rule}</p>
          <p class="muted small">Kept in <code>{r!.folder}</code>. The same from the CLI: <code>{r!.cli}</code></p>
          <div class="toolbar adapt">
            <span>Adapt {r!.version} to these images (graft adapt, a new version):</span>
            <button class={rep.verdict.startsWith('shift') ? 'primary' : ''} disabled={!!adapting} onClick={() => adapt('adabn')} data-testid="adapt-adabn" title="Re-estimate the backbone's BatchNorm statistics on the deployment images">AdaBN</button>
            <button disabled={!!adapting} onClick={() => adapt('coral')} data-testid="adapt-coral" title="Align the feature covariance of the deployment images to the training images'">CORAL</button>
            {adapting && <span class="muted">Adapting with {adapting}…</span>}
          </div>
          {adapted && (
            <div class="adapted" data-testid="adapted" data-version={adapted.version}>
              <b>{adapted.version}</b> = {adapted.from} adapted with {adapted.method} in {adapted.seconds.toFixed(1)} s
              <ul>
                <li>mean confidence on the deployment images {pc(adapted.before.meanMaxProb)} → {pc(adapted.after.meanMaxProb)}; unsure (below {adapted.after.threshold}) {pc(adapted.before.fractionBelow)} → {pc(adapted.after.fractionBelow)}</li>
                {adapted.sourceAccuracy !== undefined && <li>accuracy on the labelled training images after adaptation {pc(adapted.sourceAccuracy)}</li>}
              </ul>
              <p class="muted small">Confidence is not accuracy: label a few deployment images before deploying {adapted.version}. The same from the CLI: <code>{adapted.cli}</code></p>
            </div>
          )}
        </div>
      )}
    </section>
  );
}
