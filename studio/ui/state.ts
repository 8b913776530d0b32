import { signal } from '@preact/signals';
import { api } from './api';

export interface ProjectInfo {
  root: string;
  classes: { name: string; count: number }[];
  inbox: number;
  settings: { backbone: string; weights: string; inputSize?: number };
  embedding: { embedded: number; queued: number; failed: number };
  train: { status: string; version?: string; error?: string; accuracy?: number };
  versions: { version: string; createdAt: string; accuracy?: number }[];
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
