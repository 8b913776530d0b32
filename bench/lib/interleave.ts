import { summarize, type Summary } from './stats.js';

/** One way to run a forward pass of a fixed batch, e.g. "Graft ORT" or "PyTorch channels_last". */
export interface Engine {
  readonly id: string;
  readonly label: string;
  /** Seconds for `batches` forward passes of one batch each (outputs fetched to host memory). */
  time(batches: number): Promise<number>;
}

export interface SamplePlan {
  /** Untimed single-batch passes first (lazy allocation, kernel selection, caches). */
  warmup: number;
  /** Timed samples wanted. */
  repeats: number;
}

export interface EngineResult extends Summary {
  id: string;
  label: string;
  /** Batches per timed sample: fast engines run several so one sample lasts >= minSampleSec. */
  batchesPerSample: number;
  /** Images per second of every sample, in the order taken. */
  samples: number[];
}

export interface InterleaveOptions {
  batch: number;
  minSampleSec: number;
  /**
   * Soft limit on timed seconds (warm-up excluded): no new round starts past it once every
   * engine has min(repeats, 2) samples. Keeps --quick bounded when the machine is loaded.
   */
  budgetSec?: number;
  /** Called after each sample, for progress output. */
  onSample?: (engine: Engine, ips: number, round: number) => void;
}

/**
 * Times several engines on the same workload, alternating between them: every round takes one
 * sample from each engine that still needs one, and the order rotates from round to round, so
 * a burst of load from other processes lands on all engines rather than on whichever ran then.
 * Engines with fewer repeats (slow ones) are spread evenly over the rounds.
 *
 * @example
 * const res = await interleave([[ort, { warmup: 2, repeats: 9 }], [tfjs, { warmup: 1, repeats: 3 }]],
 *   { batch: 16, minSampleSec: 0.5 });
 * res[0].median; // images/s
 */
export async function interleave(
  plans: readonly (readonly [Engine, SamplePlan])[],
  opts: InterleaveOptions,
): Promise<EngineResult[]> {
  const perSample: number[] = [];
  for (const [engine, plan] of plans) {
    let last = Infinity;
    for (let i = 0; i < plan.warmup; i++) last = await engine.time(1);
    const k = Number.isFinite(last) ? Math.ceil(opts.minSampleSec / Math.max(last, 1e-3)) : 1;
    perSample.push(Math.min(Math.max(1, k), 16));
  }
  const rounds = Math.max(...plans.map(([, p]) => p.repeats));
  const samples: number[][] = plans.map(() => []);
  const t0 = performance.now();
  const enough = () => plans.every(([, p], e) => samples[e]!.length >= Math.min(p.repeats, 2));
  for (let r = 0; r < rounds; r++) {
    if (opts.budgetSec !== undefined && (performance.now() - t0) / 1000 > opts.budgetSec && enough()) break;
    for (let j = 0; j < plans.length; j++) {
      const e = (r + j) % plans.length;
      const [engine, plan] = plans[e]!;
      // Sample in round r iff floor((r+1)*n/R) steps up: n samples spread evenly over R rounds,
      // the first in round 0 so a budget cut never leaves a slow engine without samples.
      if (Math.floor(((r + 1) * plan.repeats + rounds - 1) / rounds) === Math.floor((r * plan.repeats + rounds - 1) / rounds)) continue;
      const k = perSample[e]!;
      const ips = (opts.batch * k) / (await engine.time(k));
      samples[e]!.push(ips);
      opts.onSample?.(engine, ips, r);
    }
  }
  return plans.map(([engine], e) => ({
    id: engine.id,
    label: engine.label,
    batchesPerSample: perSample[e]!,
    ...summarize(samples[e]!),
    samples: samples[e]!,
  }));
}
