import { GraftError } from '../errors.js';
import { argmaxRows } from '../evaluate/metrics.js';

/**
 * Multinomial logistic regression with L2, solved to convergence by L-BFGS — the linear probe of
 * Kornblith et al. (2019) and CLIP, as a head. Rows are standardised features (or any
 * coordinates of them that preserve inner products, see `probe.ts`); the objective is
 *   mean over rows of cross-entropy(softmax(z·W + b), y) + (λ/2)·‖W‖²   (the bias is not penalised),
 * which is scikit-learn's `LogisticRegression(C)` with λ = 1 / (C · n).
 */

export interface LogisticFit {
  /** [d × k], row-major. */
  W: Float64Array;
  /** [k]. */
  b: Float64Array;
  /** Objective at the solution. */
  loss: number;
  iterations: number;
  /** Whether the gradient norm fell below the tolerance (else the iteration cap stopped it). */
  converged: boolean;
}

export interface LogisticOptions {
  /** Warm start (same d and k). */
  init?: { W: Float64Array; b: Float64Array };
  /** Default 500. */
  maxIter?: number;
  /** Stop when ‖∇‖∞ ≤ tol · max(1, |loss|). Default 1e-5. */
  tol?: number;
}

/** Objective and gradient at (W, b), packed as one parameter vector [W (d·k), b (k)]. */
export function logisticLossGrad(Z: Float64Array, n: number, d: number, y: Int32Array, k: number, lambda: number, theta: Float64Array, grad: Float64Array): number {
  const W = theta.subarray(0, d * k);
  const b = theta.subarray(d * k);
  grad.fill(0);
  const gW = grad.subarray(0, d * k);
  const gb = grad.subarray(d * k);
  const logits = new Float64Array(k);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const zi = i * d;
    logits.set(b);
    for (let j = 0; j < d; j++) {
      const z = Z[zi + j]!;
      if (z === 0) continue;
      const wj = j * k;
      for (let c = 0; c < k; c++) logits[c]! += z * W[wj + c]!;
    }
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, logits[c]!);
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(logits[c]! - m);
    const lse = m + Math.log(s);
    loss += lse - logits[y[i]!]!;
    // logits → p − onehot, scaled by 1/n, then accumulated into the gradient.
    for (let c = 0; c < k; c++) logits[c] = (Math.exp(logits[c]! - lse) - (c === y[i] ? 1 : 0)) / n;
    for (let c = 0; c < k; c++) gb[c]! += logits[c]!;
    for (let j = 0; j < d; j++) {
      const z = Z[zi + j]!;
      if (z === 0) continue;
      const wj = j * k;
      for (let c = 0; c < k; c++) gW[wj + c]! += z * logits[c]!;
    }
  }
  let reg = 0;
  for (let q = 0; q < d * k; q++) {
    reg += W[q]! * W[q]!;
    gW[q]! += lambda * W[q]!;
  }
  return loss / n + 0.5 * lambda * reg;
}

/** Objective at x, gradient written into g; sync (JS loops) or async (onnxruntime). */
export type Objective = (x: Float64Array, g: Float64Array) => number | Promise<number>;

/**
 * Minimise a smooth function by L-BFGS (memory 10, backtracking Armijo line search) from x0.
 * Stops when ‖∇‖∞ ≤ tol · max(1, |f|), when f stops decreasing, or at maxIter.
 */
export async function minimizeLbfgs(fg: Objective, x0: Float64Array, o: { maxIter: number; tol: number }): Promise<{ x: Float64Array; f: number; iterations: number; converged: boolean }> {
  const p = x0.length;
  const x = x0.slice();
  const g = new Float64Array(p);
  let f = await fg(x, g);
  const m = 10;
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(p);
  const xNew = new Float64Array(p);
  const gNew = new Float64Array(p);
  const alpha = new Array<number>(m).fill(0);
  let it = 0;
  let converged = false;
  const dot = (a: Float64Array, b: Float64Array) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
    return s;
  };
  const gmax = (v: Float64Array) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s = Math.max(s, Math.abs(v[i]!));
    return s;
  };
  for (; it < o.maxIter; it++) {
    if (gmax(g) <= o.tol * Math.max(1, Math.abs(f))) {
      converged = true;
      break;
    }
    // Two-loop recursion: dir = −H·g.
    for (let i = 0; i < p; i++) dir[i] = -g[i]!;
    for (let j = S.length - 1; j >= 0; j--) {
      alpha[j] = rho[j]! * dot(S[j]!, dir);
      const yj = Y[j]!;
      for (let i = 0; i < p; i++) dir[i]! -= alpha[j]! * yj[i]!;
    }
    if (S.length) {
      const last = S.length - 1;
      const gamma = dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!);
      for (let i = 0; i < p; i++) dir[i]! *= gamma;
    } else {
      const scale = 1 / Math.max(1e-12, Math.sqrt(dot(g, g)));
      for (let i = 0; i < p; i++) dir[i]! *= scale;
    }
    for (let j = 0; j < S.length; j++) {
      const beta = rho[j]! * dot(Y[j]!, dir);
      const sj = S[j]!;
      for (let i = 0; i < p; i++) dir[i]! += (alpha[j]! - beta) * sj[i]!;
    }
    let slope = dot(g, dir);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let i = 0; i < p; i++) dir[i] = -g[i]!;
      slope = -dot(g, g);
    }
    let step = 1;
    let fNew = Infinity;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < p; i++) xNew[i] = x[i]! + step * dir[i]!;
      fNew = await fg(xNew, gNew);
      if (fNew <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNew <= f + 1e-4 * step * slope)) {
      converged = gmax(g) <= 1e-3 * Math.max(1, Math.abs(f)); // no progress left at this precision
      break;
    }
    const s = new Float64Array(p);
    const yv = new Float64Array(p);
    for (let i = 0; i < p; i++) {
      s[i] = xNew[i]! - x[i]!;
      yv[i] = gNew[i]! - g[i]!;
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      if (S.length === m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
    }
    x.set(xNew);
    g.set(gNew);
    const df = f - fNew;
    f = fNew;
    if (df <= 1e-12 * Math.max(1, Math.abs(f))) {
      converged = true;
      break;
    }
  }
  return { x, f, iterations: it, converged };
}

/**
 * Fit the L2-regularised multinomial logistic regression by L-BFGS. Z: n×d row-major; y: class
 * ids in 0..k-1. `evaluate` replaces the float64 JS objective (e.g. by onnxruntime's, see
 * logistic-ort.ts).
 *
 * @example
 * const fit = await fitLogistic(Z, n, d, labels, k, 1 / (1.0 * n)); // sklearn's C = 1
 */
export async function fitLogistic(Z: Float64Array, n: number, d: number, y: Int32Array, k: number, lambda: number, o: LogisticOptions & { evaluate?: (theta: Float64Array, lambda: number, grad: Float64Array) => Promise<number> } = {}): Promise<LogisticFit> {
  if (!(lambda > 0) || !Number.isFinite(lambda)) throw new GraftError('E_BAD_OPTIONS', `The L2 strength must be a finite number > 0. Received: lambda=${lambda}.`);
  if (Z.length !== n * d || y.length !== n) throw new GraftError('E_BATCH_SHAPE', `fitLogistic needs Z of n×d = ${n}×${d} and n labels. Received: ${Z.length} values and ${y.length} labels.`);
  const x0 = new Float64Array(d * k + k);
  if (o.init) {
    x0.set(o.init.W, 0);
    x0.set(o.init.b, d * k);
  }
  const ev = o.evaluate;
  const fg: Objective = ev ? (x, g) => ev(x, lambda, g) : (x, g) => logisticLossGrad(Z, n, d, y, k, lambda, x, g);
  const r = await minimizeLbfgs(fg, x0, { maxIter: o.maxIter ?? 500, tol: o.tol ?? 1e-5 });
  return { W: r.x.slice(0, d * k), b: r.x.slice(d * k), loss: r.f, iterations: r.iterations, converged: r.converged };
}

/** softmax(z·W + b) row by row (n×d times d×k): n×k probabilities. */
export function logisticProbs(Z: Float64Array, n: number, d: number, fit: { W: Float64Array; b: Float64Array }, k: number): Float32Array {
  const out = new Float32Array(n * k);
  const logits = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    logits.set(fit.b);
    for (let j = 0; j < d; j++) {
      const z = Z[i * d + j]!;
      if (z === 0) continue;
      for (let c = 0; c < k; c++) logits[c]! += z * fit.W[j * k + c]!;
    }
    let m = -Infinity;
    for (let c = 0; c < k; c++) m = Math.max(m, logits[c]!);
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(logits[c]! - m);
    for (let c = 0; c < k; c++) out[i * k + c] = Math.exp(logits[c]! - m) / s;
  }
  return out;
}


/** argmax rows of z·W + b (n×d times d×k). */
export function predictLogistic(Z: Float64Array, n: number, d: number, fit: { W: Float64Array; b: Float64Array }, k: number): Int32Array {
  return argmaxRows(logisticProbs(Z, n, d, fit, k), k);
}
