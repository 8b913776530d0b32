import { signal } from '@preact/signals';
import { api, withToken } from './api';

export interface ProjectInfo {
  root: string;
  classes: { name: string; count: number }[];
  inbox: number;
  settings: { backbone: string; weights: string; inputSize?: number };
  embedding: { embedded: number; queued: number; failed: number };
  train: { status: string; version?: string; error?: string; accuracy?: number };
  versions: { version: string; createdAt: string; accuracy?: number; adaptedFrom?: { version: string; method: string } }[];
}

export const project = signal<ProjectInfo | undefined>(undefined);
export const preview = signal<{ ready: boolean; classes?: string[]; fitAccuracy?: number; images?: number; reason?: string } | undefined>(undefined);
export const route = signal(location.hash.slice(1) || 'data');
export const toast = signal<string | undefined>(undefined);
/** Bumped whenever images change, so grids reload. */
export const dataVersion = signal(0);

window.addEventListener('hashchange', () => (route.value = location.hash.slice(1) || 'data'));

export async function refresh(): Promise<void> {
  project.value = await api<ProjectInfo>('/api/project');
  preview.value = await api('/api/preview');
}

export function say(message: string): void {
  toast.value = message;
  setTimeout(() => {
    if (toast.value === message) toast.value = undefined;
  }, 4000);
}

/** Poll while embeddings are being computed, so the preview fills in as images arrive. */
export function watchEmbedding(): void {
  const tick = async () => {
    const before = project.value?.embedding.queued ?? 0;
    await refresh().catch(() => undefined);
    if ((project.value?.embedding.queued ?? 0) > 0 || before > 0) dataVersion.value++;
    setTimeout(tick, (project.value?.embedding.queued ?? 0) > 0 ? 700 : 3000);
  };
  void tick();
}

/** The training stream, kept for the whole session (not per page visit): log lines and progress bars. */
export const trainLog = signal<string[]>([]);
export const trainBars = signal<Record<string, { loaded: number; total: number }>>({});

/**
 * One EventSource for the page's lifetime. It reconnects by itself and sends Last-Event-ID, so
 * the server replays exactly what was missed; each run's end is announced once.
 */
export function watchTraining(): void {
  const announced = new Set<string>();
  const es = new EventSource(withToken('/api/events'));
  es.addEventListener('train', (m) => {
    const e = JSON.parse((m as MessageEvent).data) as { type: string; task?: string; label?: string; loaded?: number; total?: number; message?: string };
    if (e.type === 'progress' || e.type === 'initiate' || e.type === 'done') trainBars.value = { ...trainBars.value, [`${e.task}: ${e.label}`]: { loaded: e.loaded ?? 0, total: e.total ?? 0 } };
    else if (e.message) trainLog.value = [...trainLog.value.slice(-300), `${e.type === 'warning' ? '⚠ ' : ''}${e.message}`];
  });
  es.addEventListener('state', (m) => {
    const st = JSON.parse((m as MessageEvent).data) as { status: string; version?: string; accuracy?: number; error?: string };
    if (st.status === 'running') {
      trainLog.value = [];
      trainBars.value = {};
    }
    const key = `${st.version}:${st.status}`;
    if (!announced.has(key) && project.value?.train.status === 'running') {
      if (st.status === 'done') say(`${st.version} trained: held-out accuracy ${((st.accuracy ?? 0) * 100).toFixed(1)}%`);
      if (st.status === 'failed') say(`Training failed: ${st.error}`);
    }
    announced.add(key);
    void refresh();
  });
}
