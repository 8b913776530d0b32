import fs from 'node:fs';
import path from 'node:path';
import type { GraftEvent, GraftEventHandler } from '../events.js';
import { GRAFT_VERSION } from './manifest.js';
import { checkFileOut, GRAFT_FILE_MARKER } from './out-target.js';

/**
 * A JSON-lines sink for Graft's event stream: one line per event (progress included), with the
 * time, after a header line that marks the file as Graft's. `forward` still receives every event,
 * so the log sits beside the terminal bar or a caller's own handler.
 *
 * @example
 * const onEvent = eventLog('run.jsonl', { force: false }, eventPrinter());
 * await trainClassifier(opts, onEvent);
 */
export function eventLog(file: string, o: { force?: boolean; protect?: (string | undefined)[] }, forward: GraftEventHandler = () => {}): GraftEventHandler {
  checkFileOut(file, { force: o.force, protect: o.protect, flag: '--log' });
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ log: GRAFT_FILE_MARKER, graftVersion: GRAFT_VERSION, startedAt: new Date().toISOString() }) + '\n');
  return (e: GraftEvent) => {
    fs.appendFileSync(file, JSON.stringify({ ...e, time: new Date().toISOString() }) + '\n');
    forward(e);
  };
}
