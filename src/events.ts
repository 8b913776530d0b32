/**
 * One vocabulary for everything a long operation reports (transformers.js style): a weight
 * download, compiling a frozen graph, extracting features, training, evaluating. The CLI's bar,
 * the JSON-lines log and a library caller's callback all consume the same events.
 *
 * @example
 * await trainClassifier(opts, (e) => {
 *   if (e.type === 'progress') console.log(`${e.task} ${e.label}: ${e.loaded}/${e.total}`);
 *   else console.log(e.message);
 * });
 */

/** What a progress event measures. */
export type GraftTask = 'download' | 'compile' | 'extract' | 'train' | 'evaluate';

/** initiate → progress … → done, for one labelled piece of work. */
export interface GraftProgressEvent {
  type: 'initiate' | 'progress' | 'done';
  task: GraftTask;
  label: string;
  loaded: number;
  /** 0 when unknown (a download without Content-Length). */
  total: number;
  unit?: string;
  /** The file concerned (downloads). */
  file?: string;
}

/** A line for the user: a stage starts, something worth knowing, or a warning. */
export interface GraftMessageEvent {
  type: 'stage' | 'info' | 'warning';
  message: string;
  /** 'epoch' for per-epoch summary lines (the progress bar already shows them). */
  label?: string;
}

export type GraftEvent = GraftProgressEvent | GraftMessageEvent;
export type GraftEventHandler = (e: GraftEvent) => void;

export function isProgress(e: GraftEvent): e is GraftProgressEvent {
  return e.type === 'initiate' || e.type === 'progress' || e.type === 'done';
}

/**
 * One plain line for an event (logs, non-TTY output): the message, or for progress
 * "label: loaded/total unit" (undefined for in-between progress, which only a bar shows).
 */
export function eventLine(e: GraftEvent): string | undefined {
  if (!isProgress(e)) return e.type === 'warning' ? `warning: ${e.message}` : e.message;
  if (e.type === 'progress') return undefined;
  return `${e.label}: ${e.type === 'initiate' ? 'started' : 'done'} ${e.type === 'done' ? e.loaded : e.total}${e.unit ?? ''}`;
}
