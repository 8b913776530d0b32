/**
 * One consumer of Graft's typed progress events for the terminal: a redrawn bar on a TTY,
 * occasional plain lines otherwise (logs, CI).
 */
export interface ProgressEvent {
  type: 'initiate' | 'progress' | 'done';
  label: string;
  loaded?: number;
  total?: number;
  unit?: string;
}

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): (e: ProgressEvent) => void {
  const tty = Boolean(stream.isTTY);
  let lastPlain = 0;
  return (e) => {
    const total = e.total ?? 0;
    const loaded = e.loaded ?? 0;
    const unit = e.unit ?? '';
    if (e.type === 'initiate') {
      if (!tty) stream.write(`${e.label}: started${total ? ` (${total}${unit})` : ''}\n`);
      return;
    }
    if (e.type === 'done') {
      if (tty) stream.write(`\r\x1b[2K${e.label}: done ${loaded}${unit}\n`);
      else stream.write(`${e.label}: done ${loaded}${unit}\n`);
      return;
    }
    const pct = total ? loaded / total : 0;
    if (tty) {
      const width = 30;
      const fill = Math.round(pct * width);
      stream.write(`\r\x1b[2K${e.label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${loaded}/${total || '?'}${unit}`);
    } else if (Date.now() - lastPlain > 5000) {
      lastPlain = Date.now();
      stream.write(`${e.label}: ${loaded}/${total || '?'}${unit}\n`);
    }
  };
}
