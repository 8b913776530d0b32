import { isProgress, type GraftEvent, type GraftProgressEvent } from '../events.js';

/**
 * One consumer of Graft's typed progress events for the terminal: a redrawn bar on a TTY,
 * occasional plain lines otherwise (logs, CI).
 */
export type ProgressEvent = Pick<GraftProgressEvent, 'type' | 'label'> & Partial<Pick<GraftProgressEvent, 'loaded' | 'total' | 'unit'>>;

export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): (e: ProgressEvent) => void {
  const tty = Boolean(stream.isTTY);
  // Plain output (logs, CI): a progress line at most every 5 s, never in the first 5 s of a task.
  let lastPlain = Date.now();
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

/**
 * The CLI's consumer of Graft's event stream (events.ts): progress as a bar, stage lines with
 * "==>", warnings marked; with `quiet`, warnings only.
 */
export function eventPrinter(quiet = false, stream: NodeJS.WriteStream = process.stderr): (e: GraftEvent) => void {
  const bar = terminalProgress(stream);
  return (e) => {
    if (quiet && e.type !== 'warning') return;
    if (isProgress(e)) return bar(e);
    const prefix = e.type === 'stage' ? '==> ' : e.type === 'warning' ? 'warning: ' : '    ';
    // On a terminal, a line replaces a bar still being drawn instead of running on after it.
    stream.write(`${stream.isTTY ? '\r\x1b[2K' : ''}${prefix}${e.message}\n`);
  };
}
