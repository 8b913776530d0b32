import { useState } from 'preact/hooks';
import { api, withToken } from './api';
import { project, refresh, say, trainLog, trainBars } from './state';

export function TrainPage() {
  const p = project.value;
  const state = p?.train;
  const [adv, setAdv] = useState<{ head: string; epochs: string; fineTuneBlocks: string; augment: boolean; timeBudget: string }>({ head: 'auto', epochs: '', fineTuneBlocks: '', augment: false, timeBudget: '' });
  const num = (v: string) => (v.trim() === '' ? undefined : Number(v));
  const options = () => ({ head: adv.head === 'auto' ? undefined : adv.head, epochs: num(adv.epochs), fineTuneBlocks: num(adv.fineTuneBlocks), augment: adv.augment || undefined, timeBudget: num(adv.timeBudget) });

  const labelled = (p?.classes ?? []).reduce((a, c) => a + c.count, 0);
  return (
    <div class="page">
      <h2>Train</h2>
      <p class="muted">
        The same recipe as <code>graft train {p?.root}</code>: a head on the frozen {p?.settings.backbone} ({p?.settings.weights}
        {p?.settings.inputSize ? `, ${p.settings.inputSize}px` : ''}) chosen by cross-validation. Features come from the cache the studio filled as images arrived. Each run becomes a model version in <code>.graft/models/</code>.
      </p>
      <div class="toolbar">
        <button class="primary" disabled={state?.status === 'running' || (p?.classes.length ?? 0) < 2} onClick={async () => {
          try {
            await api('/api/train', { method: 'POST', json: { options: options() } });
            await refresh();
          } catch (e) {
            say((e as Error).message);
          }
        }} data-testid="train">Train on {labelled} images</button>
        {state?.status === 'running' && <button class="danger" onClick={() => api('/api/train/cancel', { method: 'POST' }).then(refresh)}>Cancel</button>}
        <span class={`runstate ${state?.status}`} data-testid="runstate">{state?.status === 'idle' ? '' : `${state?.version ?? ''} ${state?.status}`}{state?.status === 'done' && state.accuracy !== undefined ? ` · accuracy ${(state.accuracy * 100).toFixed(1)}%` : ''}</span>
      </div>
      <details class="advanced">
        <summary>Advanced (the same options as <code>graft train</code>; empty = its default)</summary>
        <label>Head <select value={adv.head} onChange={(e) => setAdv({ ...adv, head: (e.target as HTMLSelectElement).value })}>{['auto', 'linear', 'dense', 'prototype', 'knn'].map((h) => <option value={h}>{h}</option>)}</select></label>
        <label>Epochs <input type="number" min="1" value={adv.epochs} onInput={(e) => setAdv({ ...adv, epochs: (e.target as HTMLInputElement).value })} /></label>
        <label>Fine-tune blocks <input type="number" min="0" value={adv.fineTuneBlocks} onInput={(e) => setAdv({ ...adv, fineTuneBlocks: (e.target as HTMLInputElement).value })} /></label>
        <label><input type="checkbox" checked={adv.augment} onChange={(e) => setAdv({ ...adv, augment: (e.target as HTMLInputElement).checked })} /> Augment</label>
        <label>Time budget (s) <input type="number" min="1" value={adv.timeBudget} onInput={(e) => setAdv({ ...adv, timeBudget: (e.target as HTMLInputElement).value })} /></label>
      </details>
      {state?.error && <pre class="error">{state.error}</pre>}
      <div class="bars">
        {Object.entries(trainBars.value).map(([k, b]) => (
          <div class="bar">
            <span>{k}</span>
            <progress max={b.total || 1} value={b.loaded} />
            <em>{b.loaded}/{b.total}</em>
          </div>
        ))}
      </div>
      <pre class="log">{trainLog.value.join('\n')}</pre>
      <h3>Versions</h3>
      <table class="versions">
        <thead><tr><th>Version</th><th>Trained</th><th>Held-out accuracy</th><th></th></tr></thead>
        <tbody>
          {(p?.versions ?? []).slice().reverse().map((v) => (
            <tr>
              <td>{v.version}{v.adaptedFrom && <small class="muted"> ({v.adaptedFrom.version} + {v.adaptedFrom.method})</small>}</td>
              <td>{new Date(v.createdAt).toLocaleString()}</td>
              <td>{v.accuracy !== undefined ? `${(v.accuracy * 100).toFixed(1)}%` : '–'}{v.adaptedFrom && <small class="muted" title="graft adapt measures the adapted model on a sample of the labelled training images, not held out"> (training images)</small>}</td>
              <td><a href={`#inspect/${v.version}`}>Inspect</a> · <a href={withToken(`/api/versions/${v.version}/report`)} target="_blank">Report</a></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
