import { useEffect, useState } from 'preact/hooks';
import { api, thumb, withToken } from './api';
import { project, refresh, route, say } from './state';

interface Row {
  id: string;
  actual: number;
  predicted: number;
  probs: number[];
  gone: boolean;
}
interface Inspect {
  classes: string[];
  fit: { basis?: string; accuracy: number; perClass: { cls: number; precision: number; recall: number; f1: number; support: number }[]; confusion: number[][] };
  images: Row[];
}
interface Version {
  version: string;
  accuracy?: number;
  metrics: { split?: string; accuracy?: number; cv?: { accuracy: number; sd: number; folds: number } };
  head?: { kind?: string };
  inspect?: Inspect;
  adaptedFrom?: { version: string; method: string; target: string; createdAt: string };
}

const pct = (v: number | undefined) => (v === undefined ? '–' : `${(v * 100).toFixed(1)}%`);
const lossOf = (r: Row) => -Math.log(Math.max(1e-7, r.probs[r.actual] ?? 0));

/** Actions on an image found by Inspect: keep it, trash it, or move it to the class it belongs to. */
function Fix(props: { row: Row; classes: string[]; onDone: (id: string) => void }) {
  const { row, classes } = props;
  const act = async (what: 'keep' | 'delete' | string) => {
    if (what === 'keep') return props.onDone(row.id);
    if (what === 'delete') await api('/api/images/delete', { method: 'POST', json: { ids: [row.id] } });
    else await api('/api/images/move', { method: 'POST', json: { ids: [row.id], to: what } });
    say(what === 'delete' ? 'Moved to the trash' : `Relabelled as ${what}`);
    props.onDone(row.id);
    await refresh();
  };
  return (
    <figure class="fix" data-id={row.id}>
      <img src={thumb(row.id)} alt={row.id} />
      <figcaption>
        <span>is <b>{classes[row.actual]}</b> · model: <b>{classes[row.predicted]}</b> {(row.probs[row.predicted]! * 100).toFixed(0)}%</span>
        <span class="acts">
          <button onClick={() => act('keep')}>Keep</button>
          <button class="danger" onClick={() => act('delete')}>Delete</button>
          <select value="" onChange={(e) => act((e.target as HTMLSelectElement).value)} data-testid="moveto">
            <option value="">Move to…</option>
            {classes.filter((_, i) => i !== row.actual).map((c) => <option value={c}>{c}</option>)}
          </select>
        </span>
      </figcaption>
    </figure>
  );
}

export function InspectPage() {
  const versions = project.value?.versions ?? [];
  const wanted = route.value.split('/')[1] ?? versions.at(-1)?.version;
  const [v, setV] = useState<Version | undefined>();
  const [cell, setCell] = useState<[number, number] | undefined>();
  const [done, setDone] = useState<Set<string>>(new Set());
  const [other, setOther] = useState<Version | undefined>();
  const [otherName, setOtherName] = useState('');
  useEffect(() => {
    if (otherName) void api<Version>(`/api/versions/${otherName}`).then(setOther, (e) => say(e.message));
    else setOther(undefined);
  }, [otherName]);
  useEffect(() => {
    setCell(undefined);
    if (wanted) void api<Version>(`/api/versions/${wanted}`).then(setV, (e) => say(e.message));
  }, [wanted, versions.length]);
  if (!wanted) return <div class="page"><h2>Inspect</h2><p class="muted">Train a model first (Train page).</p></div>;
  if (!v || v.version !== wanted) return <div class="page"><h2>Inspect {wanted}</h2><p class="muted">Loading…</p></div>;
  if (!v.inspect) {
    // A version made by graft adapt: the deployment images have no labels, so no held-out predictions to show.
    const a = v.adaptedFrom;
    return (
      <div class="page inspect">
        <Toolbar wanted={wanted} versions={versions} />
        <div class="cards">
          <div class="card" data-testid="accuracy"><em>Accuracy</em><b>{pct(v.metrics.accuracy)}</b><small>{v.metrics.split ?? ''}</small></div>
          <div class="card"><em>Head</em><b>{v.head?.kind ?? '–'}</b></div>
        </div>
        <p data-testid="no-inspect">
          {a ? <>{wanted} is {a.version} adapted with <b>{a.method}</b> to the unlabelled images in <code>{a.target}</code> (graft adapt). </> : null}
          It has no per-image Inspect data: the images it was adapted to carry no labels, so there is no confusion matrix of held-out predictions. Inspect {a ? <a href={`#inspect/${a.version}`}>{a.version}</a> : 'the version it came from'} for those, and label a few deployment images to measure {wanted}.
        </p>
      </div>
    );
  }
  const ins = v.inspect;
  const k = ins.classes;
  const rows = ins.images.filter((r) => !r.gone && !done.has(r.id));
  const inCell = cell ? rows.filter((r) => r.actual === cell[0] && r.predicted === cell[1]) : [];
  const losses = rows.filter((r) => lossOf(r) > 0.05).sort((a, b) => lossOf(b) - lossOf(a)).slice(0, 16);
  const max = Math.max(1, ...ins.fit.confusion.flat());
  const finish = (id: string) => setDone((s) => new Set([...s, id]));
  return (
    <div class="page inspect">
      <Toolbar wanted={wanted} versions={versions} />
      <div class="cards">
        <div class="card" data-testid="accuracy"><em>Held-out accuracy</em><b>{pct(v.metrics.accuracy)}</b><small>{v.metrics.cv ? `${v.metrics.cv.folds}-fold cross-validation ± ${(v.metrics.cv.sd * 100).toFixed(1)}` : v.metrics.split}</small></div>
        <div class="card"><em>Images shown below</em><b>{ins.images.length}</b><small>held out: {ins.fit.basis ?? 'labelled images'}</small></div>
        <div class="card"><em>Head</em><b>{v.head?.kind ?? '–'}</b><small>{k.length} classes</small></div>
      </div>
      <div class="two">
        <div>
          <h3>Confusion matrix <small class="muted">(held-out predictions; rows: label, columns: model) — click a cell</small></h3>
          <table class="confusion">
            <thead><tr><th></th>{k.map((c) => <th>{c}</th>)}</tr></thead>
            <tbody>
              {ins.fit.confusion.map((row, a) => (
                <tr>
                  <th>{k[a]}</th>
                  {row.map((n, p) => (
                    <td class={`${a === p ? 'diag' : n ? 'off' : ''}${cell && cell[0] === a && cell[1] === p ? ' on' : ''}`} style={{ '--w': String(n / max) }} onClick={() => setCell([a, p])} data-cell={`${a},${p}`}>{n}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h3>Per class</h3>
          <table class="perclass">
            <thead><tr><th>Class</th><th>Precision</th><th>Recall</th><th>F1</th><th>Images</th></tr></thead>
            <tbody>
              {ins.fit.perClass.map((c) => <tr><td>{k[c.cls]}</td><td>{pct(c.precision)}</td><td>{pct(c.recall)}</td><td>{pct(c.f1)}</td><td>{c.support}</td></tr>)}
            </tbody>
          </table>
        </div>
      </div>
      {cell && (
        <section data-testid="cell">
          <h3>Labelled {k[cell[0]]}, predicted {k[cell[1]]}: {inCell.length} image(s)</h3>
          <div class="fixes">{inCell.map((r) => <Fix row={r} classes={k} onDone={finish} />)}</div>
        </section>
      )}
      <section class="compare">
        <h3>Compare {wanted} with{' '}
          <select value={otherName} onChange={(e) => setOtherName((e.target as HTMLSelectElement).value)} data-testid="compare">
            <option value="">…</option>
            {versions.filter((x) => x.version !== wanted).map((x) => <option value={x.version}>{x.version}</option>)}
          </select>
        </h3>
        {other?.inspect && (
          <table class="perclass">
            <thead><tr><th></th><th>{other.version}</th><th>{wanted}</th><th>change</th></tr></thead>
            <tbody>
              {[['Held-out accuracy', other.metrics.accuracy, v.metrics.accuracy] as const, ...k.map((c) => {
                const mine = ins.fit.perClass.find((x) => k[x.cls] === c)?.f1;
                const oi = other.inspect!.classes.indexOf(c);
                const theirs = other.inspect!.fit.perClass.find((x) => x.cls === oi)?.f1;
                return [`F1 ${c} (labelled images)`, oi < 0 ? undefined : theirs, mine] as const;
              })].map(([name, a, b]) => (
                <tr><td>{name}</td><td>{pct(a)}</td><td>{pct(b)}</td><td class={a !== undefined && b !== undefined ? (b > a ? 'up' : b < a ? 'down' : '') : ''}>{a !== undefined && b !== undefined ? `${b >= a ? '+' : ''}${((b - a) * 100).toFixed(1)}` : '–'}</td></tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section>
        <h3>Top losses <small class="muted">(the images the model finds least like their label: wrong labels show up here)</small></h3>
        <div class="fixes">{losses.length ? losses.map((r) => <Fix row={r} classes={k} onDone={finish} />) : <p class="muted">None: every image is predicted as its label with high confidence.</p>}</div>
      </section>
    </div>
  );
}

/** The page's heading: which version, the others to switch to, and its full report. */
function Toolbar({ wanted, versions }: { wanted: string; versions: { version: string }[] }) {
  return (
    <div class="toolbar">
      <h2>Inspect</h2>
      <select value={wanted} onChange={(e) => (location.hash = `inspect/${(e.target as HTMLSelectElement).value}`)}>
        {versions.map((x) => <option value={x.version}>{x.version}</option>)}
      </select>
      <a href={withToken(`/api/versions/${wanted}/report`)} target="_blank">Full report</a>
    </div>
  );
}
