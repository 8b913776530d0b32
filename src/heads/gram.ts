/**
 * The small dense linear algebra the probe needs, in float64: standardisation, Gram matrices,
 * Cholesky, and coordinates that keep inner products. With fewer rows than features (the usual
 * few-shot case) an L2-regularised linear model only ever sees the rows' span, so a training set
 * Z (n×d) can be replaced by L (n×n) with Z·Zᵀ = L·Lᵀ: same solution, d/n times cheaper.
 */

/** Per-column mean and standard deviation (a constant column gets sd 1, so it stays 0). */
export function columnStats(X: Float32Array | Float64Array, n: number, d: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += X[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j]! /= Math.max(1, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const v = X[i * d + j]! - mean[j]!;
      std[j]! += v * v;
    }
  }
  for (let j = 0; j < d; j++) {
    const s = Math.sqrt(std[j]! / Math.max(1, n));
    std[j] = s > 1e-8 ? s : 1;
  }
  return { mean, std };
}

/** (X − mean) / std, as float64. */
export function standardise(X: Float32Array | Float64Array, n: number, d: number, s: { mean: Float64Array; std: Float64Array }): Float64Array {
  const Z = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) Z[i * d + j] = (X[i * d + j]! - s.mean[j]!) / s.std[j]!;
  return Z;
}

/** A·Bᵀ for A (na×d) and B (nb×d): na×nb. */
export function gram(A: Float64Array, na: number, B: Float64Array, nb: number, d: number): Float64Array {
  const G = new Float64Array(na * nb);
  for (let i = 0; i < na; i++) {
    const ai = i * d;
    for (let j = 0; j < nb; j++) {
      const bj = j * d;
      let s = 0;
      for (let q = 0; q < d; q++) s += A[ai + q]! * B[bj + q]!;
      G[i * nb + j] = s;
    }
  }
  return G;
}

/** The rows `rows` × columns `cols` of an n-column matrix. */
export function submatrix(G: Float64Array, n: number, rows: readonly number[], cols: readonly number[]): Float64Array {
  const out = new Float64Array(rows.length * cols.length);
  rows.forEach((r, i) => cols.forEach((c, j) => (out[i * cols.length + j] = G[r * n + c]!)));
  return out;
}

/**
 * Lower-triangular L with G + εI = L·Lᵀ (G symmetric positive semi-definite, n×n). The jitter ε
 * (1e-10 of the mean diagonal, grown if needed) makes duplicate rows harmless.
 */
export function cholesky(G: Float64Array, n: number): Float64Array {
  let trace = 0;
  for (let i = 0; i < n; i++) trace += G[i * n + i]!;
  let eps = 1e-10 * Math.max(1e-12, trace / Math.max(1, n));
  for (let attempt = 0; attempt < 12; attempt++, eps *= 100) {
    const L = new Float64Array(n * n);
    let ok = true;
    for (let j = 0; j < n && ok; j++) {
      let s = G[j * n + j]! + eps;
      for (let q = 0; q < j; q++) s -= L[j * n + q]! * L[j * n + q]!;
      if (!(s > 0)) {
        ok = false;
        break;
      }
      const ljj = Math.sqrt(s);
      L[j * n + j] = ljj;
      for (let i = j + 1; i < n; i++) {
        let t = G[i * n + j]!;
        for (let q = 0; q < j; q++) t -= L[i * n + q]! * L[j * n + q]!;
        L[i * n + j] = t / ljj;
      }
    }
    if (ok) return L;
  }
  throw new Error('cholesky: matrix is not positive semi-definite');
}

/**
 * X·L⁻ᵀ for X (m×n) and lower-triangular L (n×n): the coordinates, in L's basis, of rows whose
 * inner products with the training rows are X (so a held-out row lands where the model sees it).
 */
export function solveRight(X: Float64Array, m: number, L: Float64Array, n: number): Float64Array {
  // Row by row: find u with L·u = x (forward substitution), since x·L⁻ᵀ = (L⁻¹·xᵀ)ᵀ.
  const out = new Float64Array(m * n);
  for (let r = 0; r < m; r++) {
    for (let i = 0; i < n; i++) {
      let s = X[r * n + i]!;
      for (let q = 0; q < i; q++) s -= L[i * n + q]! * out[r * n + q]!;
      out[r * n + i] = s / L[i * n + i]!;
    }
  }
  return out;
}

/** L⁻ᵀ·B for lower-triangular L (n×n) and B (n×k): back substitution on Lᵀ. */
export function solveUpperT(L: Float64Array, n: number, B: Float64Array, k: number): Float64Array {
  const out = new Float64Array(n * k);
  for (let c = 0; c < k; c++) {
    for (let i = n - 1; i >= 0; i--) {
      let s = B[i * k + c]!;
      for (let q = i + 1; q < n; q++) s -= L[q * n + i]! * out[q * k + c]!;
      out[i * k + c] = s / L[i * n + i]!;
    }
  }
  return out;
}

/** Aᵀ·B for A (n×d) and B (n×k): d×k. */
export function transposeTimes(A: Float64Array, n: number, d: number, B: Float64Array, k: number): Float64Array {
  const out = new Float64Array(d * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      const a = A[i * d + j]!;
      if (a === 0) continue;
      for (let c = 0; c < k; c++) out[j * k + c]! += a * B[i * k + c]!;
    }
  }
  return out;
}
