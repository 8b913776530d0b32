import { busy } from './http-error.js';
import type { Runner } from './runner.js';

export interface BatcherOptions {
  /** Most images in one onnxruntime run. */
  maxBatchSize: number;
  /** How long the first queued image may wait for others while the runner is idle (ms). */
  maxBatchDelayMs: number;
  /** Most images waiting (not yet running); beyond it a request gets 503 + Retry-After. */
  maxQueueImages: number;
  /** How long an image may wait in the queue before its request gets 503 (ms). */
  queueTimeoutMs: number;
  /** Floats per image (h*w*3). */
  imageLength: number;
  /** Called once per batch that ran: its size and the run's seconds. */
  onBatch?: (size: number, seconds: number) => void;
  /** Called per request when its images leave the queue: seconds waited. */
  onDequeue?: (seconds: number) => void;
}

interface Item {
  x: Float32Array;
  n: number;
  at: number;
  timer?: NodeJS.Timeout;
  resolve: (probs: Float32Array) => void;
  reject: (e: Error) => void;
}

/**
 * Dynamic batching for one model: requests queue here, and whenever the runner is free the queue
 * goes to it as one batch of up to `maxBatchSize` images — at once if that many wait, else after
 * the oldest has waited `maxBatchDelayMs`. While a batch runs the next one fills, so under load
 * batches fill without any delay. A request's images are never split across batches (a request
 * larger than `maxBatchSize` runs as a batch of its own).
 *
 * @example
 * const b = new Batcher(runner, { maxBatchSize: 8, maxBatchDelayMs: 2, maxQueueImages: 256, queueTimeoutMs: 10_000, imageLength: 224 * 224 * 3 });
 * const probs = await b.submit(pixels, 1);
 */
export class Batcher {
  private queue: Item[] = [];
  private queued = 0;
  private running = false;
  private timer?: NodeJS.Timeout;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private runner: Runner,
    private o: BatcherOptions,
  ) {}

  /** Images waiting for a batch. */
  get depth(): number {
    return this.queued;
  }

  get busy(): boolean {
    return this.running || this.queue.length > 0;
  }

  submit(x: Float32Array, n: number): Promise<Float32Array> {
    if (this.queued + n > this.o.maxQueueImages) {
      return Promise.reject(busy(`The queue of this model is full (${this.queued} images waiting, limit ${this.o.maxQueueImages}); retry later.`));
    }
    return new Promise((resolve, reject) => {
      const item: Item = { x, n, at: performance.now(), resolve, reject };
      item.timer = setTimeout(() => {
        const i = this.queue.indexOf(item);
        if (i < 0) return;
        this.queue.splice(i, 1);
        this.queued -= item.n;
        reject(busy(`The request waited ${this.o.queueTimeoutMs} ms in the queue without running (the server is overloaded); retry later.`));
        this.settle();
      }, this.o.queueTimeoutMs);
      item.timer.unref();
      this.queue.push(item);
      this.queued += n;
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settle(): void {
    if (this.busy) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return this.settle();
    const waited = performance.now() - this.queue[0]!.at;
    if (this.queued >= this.o.maxBatchSize || waited >= this.o.maxBatchDelayMs) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      void this.launch();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.o.maxBatchDelayMs - waited);
    }
  }

  private async launch(): Promise<void> {
    const items: Item[] = [];
    let n = 0;
    while (this.queue.length && (items.length === 0 || n + this.queue[0]!.n <= this.o.maxBatchSize)) {
      const it = this.queue.shift()!;
      clearTimeout(it.timer);
      items.push(it);
      n += it.n;
    }
    this.queued -= n;
    this.running = true;
    const now = performance.now();
    for (const it of items) this.o.onDequeue?.((now - it.at) / 1000);
    const len = this.o.imageLength;
    let x: Float32Array;
    if (items.length === 1 && items[0]!.x.byteOffset === 0 && items[0]!.x.buffer.byteLength === n * len * 4) x = items[0]!.x;
    else {
      x = new Float32Array(n * len);
      let off = 0;
      for (const it of items) {
        x.set(it.x.subarray(0, it.n * len), off);
        off += it.n * len;
      }
    }
    const t0 = performance.now();
    try {
      const probs = await this.runner.run(x, n);
      this.o.onBatch?.(n, (performance.now() - t0) / 1000);
      const width = probs.length / n;
      let row = 0;
      for (const it of items) {
        it.resolve(probs.slice(row * width, (row + it.n) * width));
        row += it.n;
      }
    } catch (e) {
      for (const it of items) it.reject(e as Error);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}
