import type { BatchLogs, Callback, EpochLogs, FitContext } from '../fit.js';

export interface ProgressBarOptions {
  /** Where to write (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Override TTY detection (default: `stream.isTTY`). */
  tty?: boolean;
  /** Bar width in characters (default 24). */
  width?: number;
  /** Minimum milliseconds between redraws on a TTY (default 100). */
  throttleMs?: number;
}

const fmt = (v: number | undefined) => (v === undefined ? undefined : Number.isFinite(v) ? v.toFixed(4) : String(v));

/** `loss 0.6931  acc 0.5000  val_loss …  lr 1.00e-3`: the numbers of a batch or an epoch, for one line. */
export function metrics(l: Partial<EpochLogs>): string {
  const parts: string[] = [];
  for (const [name, v] of [['loss', l.loss], ['acc', l.acc], ['val_loss', l.valLoss], ['val_acc', l.valAcc]] as const) {
    const s = fmt(v);
    if (s !== undefined) parts.push(`${name} ${s}`);
  }
  if (l.lr !== undefined) parts.push(`lr ${l.lr.toExponential(2)}`);
  return parts.join('  ');
}

/**
 * Keras-style progress. On a TTY one line is redrawn in place (`\r`) during each epoch and left
 * behind at its end; elsewhere (logs, CI) only one plain line per epoch is written.
 *
 * @example
 * await fit(engine, { train, val }, { epochs: 3, callbacks: [progressBar()] });
 * // Epoch 1/3  40/40  3.1s  loss 0.6931  acc 0.5000  val_loss 0.6012  val_acc 0.7000  lr 1.00e-3
 */
export function progressBar(opts: ProgressBarOptions = {}): Callback {
  const stream = opts.stream ?? process.stderr;
  const tty = opts.tty ?? Boolean(stream.isTTY);
  const width = opts.width ?? 24;
  const throttle = opts.throttleMs ?? 100;
  let lastDraw = 0;
  let t0 = 0;
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  const head = (epoch: number, ctx: FitContext) => `Epoch ${epoch + 1}/${ctx.epochs}`;
  return {
    onEpochBegin() {
      t0 = performance.now();
      lossSum = correct = count = 0;
      lastDraw = 0;
    },
    onBatchEnd(l: BatchLogs, ctx: FitContext) {
      lossSum += l.loss * l.size;
      correct += l.acc * l.size;
      count += l.size;
      if (!tty) return;
      const now = performance.now();
      const done = l.batch + 1;
      if (now - lastDraw < throttle && done < ctx.stepsPerEpoch) return;
      lastDraw = now;
      const frac = Math.min(1, done / ctx.stepsPerEpoch);
      const fill = Math.round(frac * width);
      const eta = done ? ((now - t0) / done) * Math.max(0, ctx.stepsPerEpoch - done) / 1000 : 0;
      const bar = `[${'='.repeat(fill)}${'.'.repeat(width - fill)}]`;
      stream.write(`\r\x1b[2K${head(l.epoch, ctx)} ${bar} ${done}/${ctx.stepsPerEpoch}  eta ${eta.toFixed(0)}s  ${metrics({ loss: lossSum / count, acc: correct / count, lr: l.lr })}`);
    },
    onEpochEnd(l: EpochLogs, ctx: FitContext) {
      const line = `${head(l.epoch, ctx)}  ${l.seconds.toFixed(1)}s  ${metrics(l)}`;
      stream.write(tty ? `\r\x1b[2K${line}\n` : `${line}\n`);
    },
    onTrainEnd(h) {
      if (h.stopReason) stream.write(`${tty ? '\r\x1b[2K' : ''}Stopped: ${h.stopReason}\n`);
    },
  };
}
