import { useState } from 'preact/hooks';
import { api } from './api';
import { say } from './state';

interface Shift {
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

/** Drop the deployment images: `graft shift` says whether they look like the training data. */
export function ShiftPanel(props: { version: string }) {
  const [r, setR] = useState<Shift | undefined>();
  const [busy, setBusy] = useState(false);
  const run = async (files: File[]) => {
    const imgs = files.filter((f) => /\.(jpe?g|png|webp|gif|tiff?|avif)$/i.test(f.name));
    if (!imgs.length) return;
    setBusy(true);
    setR(undefined);
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
            {rep.confidenceDrift && <li>{props.version}'s mean confidence {(rep.confidenceDrift.a.meanMaxProb * 100).toFixed(1)}% on training images, {(rep.confidenceDrift.b.meanMaxProb * 100).toFixed(1)}% on deployment images</li>}
          </ul>
          <p class="muted small">{rep.rule}</p>
          <p class="muted small">Kept in <code>{r!.folder}</code>. The same from the CLI: <code>{r!.cli}</code>{rep.verdict.startsWith('shift') ? '; then graft adapt (AdaBN, CORAL, pseudo-labels) on that folder.' : ''}</p>
        </div>
      )}
    </section>
  );
}
