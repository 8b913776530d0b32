// The page's one door to the server: every call carries the session token from the URL.
const params = new URLSearchParams(location.search);
export const token = params.get('token') ?? sessionStorage.getItem('graft-token') ?? '';
if (token) sessionStorage.setItem('graft-token', token);

export const withToken = (url: string) => `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;

export async function api<T = any>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let body = init.body;
  if (init.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(init.json);
  }
  const r = await fetch(path, { ...init, body, headers: { ...headers, ...(init.headers as Record<string, string> | undefined) } });
  const text = await r.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!r.ok && !(r.status === 400 && data?.added)) throw new Error(data?.error ?? `${r.status} ${r.statusText}`);
  return data as T;
}

export const thumb = (id: string) => withToken(`/api/thumb?id=${encodeURIComponent(id)}`);
export const original = (id: string) => withToken(`/api/image?id=${encodeURIComponent(id)}`);

export interface ImageInfo {
  id: string;
  name: string;
  label: string | null;
  embedded?: boolean;
  error?: string;
  /** The inbox's guess and what made it: the latest version ("v3") or "prototype". */
  guess?: { label: string; confidence: number; by?: string };
}

/** Upload files in chunks (the server takes a bounded number per request). */
export async function uploadFiles(label: string | null, files: File[], onProgress?: (done: number) => void): Promise<{ added: number; failed: { name: string; error: string }[] }> {
  let added = 0;
  const failed: { name: string; error: string }[] = [];
  const images = files.filter((f) => /\.(jpe?g|jpe|png|webp|gif|tiff?|avif)$/i.test(f.name) || f.type.startsWith('image/'));
  for (let i = 0; i < images.length; i += 32) {
    const fd = new FormData();
    for (const f of images.slice(i, i + 32)) fd.append('file', f, f.name || `pasted-${Date.now()}.png`);
    const r = await api<{ added: unknown[]; failed: { name: string; error: string }[] }>(`/api/images?label=${encodeURIComponent(label ?? '_inbox')}`, { method: 'POST', body: fd });
    added += r.added.length;
    failed.push(...r.failed);
    onProgress?.(Math.min(images.length, i + 32));
  }
  return { added, failed };
}
