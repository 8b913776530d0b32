import fs from 'node:fs';
import path from 'node:path';
import type { BatchLogs, Callback, EpochLogs } from '../fit.js';

export interface JsonlLoggerOptions {
  /** Also write one line per batch (default false). */
  perBatch?: boolean;
}

/**
 * Append one JSON object per line to `file`: `{"type":"epoch", ...EpochLogs, "time": ISO}` at each
 * epoch end and, with `perBatch`, `{"type":"batch", ...BatchLogs, "time"}` after each batch.
 * Appends (never truncates), so resumed runs extend the same log; each line is written before
 * training continues, so a crash loses at most the line being written. Non-finite numbers are
 * written as null (JSON has no NaN).
 *
 * @example
 * await fit(engine, { train, val }, { epochs: 5, callbacks: [jsonlLogger('runs/metrics.jsonl')] });
 * // {"type":"epoch","epoch":0,"loss":0.93,"acc":0.61,"valLoss":0.71,"valAcc":0.74,"lr":0.001,"seconds":3.2,"time":"…"}
 */
export function jsonlLogger(file: string, opts: JsonlLoggerOptions = {}): Callback {
  let fh: fs.promises.FileHandle | undefined;
  const write = async (type: string, logs: BatchLogs | EpochLogs) => {
    if (!fh) {
      fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      fh = await fs.promises.open(file, 'a');
    }
    await fh.write(JSON.stringify({ type, ...logs, time: new Date().toISOString() }) + '\n');
  };
  const cb: Callback = {
    onEpochEnd: (logs) => write('epoch', logs),
    async onTrainEnd() {
      const h = fh;
      fh = undefined;
      await h?.close();
    },
  };
  if (opts.perBatch) cb.onBatchEnd = (logs) => write('batch', logs);
  return cb;
}
