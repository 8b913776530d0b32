import { render } from 'preact';
import { project, route, toast, refresh, watchEmbedding, watchTraining } from './state';
import { token } from './api';
import { DataPage } from './data';
import { TrainPage } from './train';
import { InspectPage } from './inspect';
import { TryPage } from './try';

const PAGES: [string, string][] = [
  ['data', 'Data'],
  ['train', 'Train'],
  ['inspect', 'Inspect'],
  ['try', 'Try & export'],
];

function App() {
  const p = project.value;
  if (!token) return <div class="empty">Open the URL that <code>graft studio</code> printed: it carries the session token.</div>;
  const page = route.value.split('/')[0];
  return (
    <div class="shell">
      <header>
        <strong class="brand">Graft Studio</strong>
        <span class="root" title={p?.root}>{p?.root}</span>
        <nav>
          {PAGES.map(([id, label]) => (
            <a href={`#${id}`} class={page === id ? 'on' : ''} data-page={id}>
              {label}
            </a>
          ))}
        </nav>
        <span class="status">
          {p && `${p.embedding.embedded} embedded${p.embedding.queued ? ` · ${p.embedding.queued} queued` : ''}`}
          {p?.train.status === 'running' && <b> · training {p.train.version}</b>}
        </span>
      </header>
      <main>
        {page === 'data' && <DataPage />}
        {page === 'train' && <TrainPage />}
        {page === 'inspect' && <InspectPage />}
        {page === 'try' && <TryPage />}
      </main>
      {toast.value && <div class="toast">{toast.value}</div>}
    </div>
  );
}

render(<App />, document.getElementById('app')!);
void refresh().then(() => {
  watchEmbedding();
  watchTraining();
});
