// Metrics of a consensus matrix (how often two items share their largest component over many
// fits) and the matching of components between fits: average-linkage clustering with cophenetic
// correlation, dispersion, PAC, and the Hungarian assignment. Plain arithmetic on typed arrays;
// the linkage replays SciPy's nearest-neighbour chain (same merge order under ties), so the
// numbers agree with `scipy.cluster.hierarchy.cophenet(linkage(1 − C, 'average'), 1 − C)`.
import { describe, rangeError, typeError } from './errors';
import { Matrix } from './matrix';

/** Position of pair (i, j), i < j, in a condensed (upper-triangle, row by row) n×n distance vector. */
function condensedIndex(n: number, i: number, j: number): number {
  return n * i - (i * (i + 1)) / 2 + (j - i - 1);
}

/** Checks that C is a square CPU matrix with entries in [0, 1] and ones on the diagonal. */
function checkConsensus(name: string, C: unknown): Matrix {
  if (!(C instanceof Matrix)) throw typeError(name, 'a Matrix (N×N, entries in [0, 1])', C);
  if (C.rows !== C.cols) throw rangeError(name, 'a square matrix', `${C.rows}×${C.cols}`);
  if (C.device !== 'cpu') throw rangeError(name, 'a CPU matrix', `a ${C.device} matrix`);
  const d = C.data, n = C.rows;
  for (let i = 0; i < d.length; i++) {
    if (!(d[i] >= 0 && d[i] <= 1)) throw rangeError(name, 'entries in [0, 1]', `${describe(d[i])} at row ${Math.floor(i / n)}, column ${i % n}`);
  }
  return C;
}

/** 1 − C as a condensed distance vector (pairs i < j). */
function distances(C: Matrix): Float64Array {
  const n = C.rows, d = C.data;
  const out = new Float64Array((n * (n - 1)) / 2);
  let p = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out[p++] = 1 - d[i * n + j];
  return out;
}

export interface Linkage {
  /** The merges in the order made: clusters (by a member's index), height, size of the new cluster. */
  merges: { a: number; b: number; height: number; size: number }[];
  /** Cophenetic distances (condensed): the height at which each pair first shares a cluster. */
  cophenetic: Float64Array;
  /** The leaves in dendrogram order (each merge lists its first cluster's leaves before its second's). */
  order: Uint32Array;
}

/**
 * Average linkage (UPGMA) of n items from condensed distances, by SciPy's nearest-neighbour
 * chain (scipy/cluster/_hierarchy.pyx nn_chain, Lance–Williams update
 * (nₓ·dₓᵢ + n_y·d_yᵢ)/(nₓ + n_y)): the same scans and the same strict comparisons, so ties
 * merge as SciPy merges them. O(n²) time, one condensed copy of the distances.
 */
export function averageLinkage(dist: Float64Array, n: number): Linkage {
  if (dist.length !== (n * (n - 1)) / 2) throw rangeError('dist', `n(n − 1)/2 = ${(n * (n - 1)) / 2} condensed distances`, `${dist.length}`);
  const D = Float64Array.from(dist);
  const size = new Int32Array(n).fill(1);
  const chain = new Int32Array(n);
  let chainLength = 0;
  // Members of each live cluster (kept under the index SciPy keeps: the larger of the two).
  const members: number[][] = Array.from({ length: n }, (_, i) => [i]);
  const coph = new Float64Array(D.length);
  const merges: Linkage['merges'] = [];
  const at = (i: number, j: number) => (i < j ? condensedIndex(n, i, j) : condensedIndex(n, j, i));
  for (let step = 0; step < n - 1; step++) {
    if (chainLength === 0) {
      chainLength = 1;
      for (let i = 0; i < n; i++) {
        if (size[i] > 0) {
          chain[0] = i;
          break;
        }
      }
    }
    let x = 0, y = 0, currentMin = Infinity;
    for (;;) {
      x = chain[chainLength - 1];
      // Prefer the previous element of the chain as the minimum, so ties cannot cycle.
      if (chainLength > 1) {
        y = chain[chainLength - 2];
        currentMin = D[at(x, y)];
      } else {
        currentMin = Infinity;
      }
      for (let i = 0; i < n; i++) {
        if (size[i] === 0 || i === x) continue;
        const dist = D[at(x, i)];
        if (dist < currentMin) {
          currentMin = dist;
          y = i;
        }
      }
      if (chainLength > 1 && y === chain[chainLength - 2]) break;
      chain[chainLength++] = y;
    }
    chainLength -= 2;
    if (x > y) [x, y] = [y, x];
    const nx = size[x], ny = size[y];
    merges.push({ a: x, b: y, height: currentMin, size: nx + ny });
    for (const i of members[x]) for (const j of members[y]) coph[at(i, j)] = currentMin;
    members[y] = members[x].concat(members[y]);
    members[x] = [];
    size[x] = 0;
    size[y] = nx + ny;
    for (let i = 0; i < n; i++) {
      const ni = size[i];
      if (ni === 0 || i === y) continue;
      D[at(i, y)] = (nx * D[at(i, x)] + ny * D[at(i, y)]) / (nx + ny);
    }
  }
  const root = members.find((m) => m.length > 0) ?? [];
  return { merges, cophenetic: coph, order: Uint32Array.from(root) };
}

/** Pearson correlation of two equally long vectors (NaN when either is constant). */
function pearson(a: Float64Array, b: Float64Array): number {
  let ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= a.length;
  mb /= b.length;
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i] - ma, db = b[i] - mb;
    ab += da * db;
    aa += da * da;
    bb += db * db;
  }
  return ab / Math.sqrt(aa * bb);
}

/**
 * Cophenetic correlation of a consensus matrix C (Brunet et al. 2004): the Pearson correlation
 * between the distances 1 − C and the cophenetic distances of their average-linkage tree. 1 for
 * a perfectly stable clustering; NaN when all distances are equal (e.g. a single cluster).
 */
export function copheneticCorrelation(C: Matrix): number {
  checkConsensus('consensus', C);
  return copheneticOf(C).correlation;
}

/** The linkage of 1 − C and its cophenetic correlation (C already checked). */
export function copheneticOf(C: Matrix): { correlation: number; linkage: Linkage } {
  const d = distances(C);
  const linkage = averageLinkage(d, C.rows);
  return { correlation: pearson(d, linkage.cophenetic), linkage };
}

/**
 * Dispersion of a consensus matrix (Kim & Park 2007): (1/N²)·Σᵢⱼ 4·(Cᵢⱼ − ½)², over all
 * entries (the diagonal included). 1 when every entry is 0 or 1, lower as entries near ½.
 */
export function dispersion(C: Matrix): number {
  checkConsensus('consensus', C);
  const d = C.data;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += 4 * (d[i] - 0.5) ** 2;
  return s / d.length;
}

/**
 * Proportion of ambiguous clustering (Şenbabaoğlu et al. 2014): the share of pairs i < j whose
 * consensus lies in (lower, upper], i.e. CDF(upper) − CDF(lower) of the off-diagonal entries.
 * 0 for a perfectly stable clustering. Defaults 0.1 and 0.9, the paper's.
 */
export function pac(C: Matrix, lower = 0.1, upper = 0.9): number {
  checkConsensus('consensus', C);
  checkPacBounds(lower, upper);
  const n = C.rows, d = C.data;
  if (n < 2) return 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const c = d[i * n + j];
      if (c > lower && c <= upper) count++;
    }
  }
  return count / ((n * (n - 1)) / 2);
}

export function checkPacBounds(lower: unknown, upper: unknown): void {
  for (const [name, v] of [['pacLower', lower], ['pacUpper', upper]] as const) {
    if (typeof v !== 'number') throw typeError(name, 'a number in [0, 1]', v);
    if (!(v >= 0 && v <= 1)) throw rangeError(name, 'a number in [0, 1]', describe(v));
  }
  if ((lower as number) >= (upper as number)) throw rangeError('pacLower', `less than pacUpper (${upper})`, describe(lower));
}

/**
 * The assignment of rows to columns of an n×n cost matrix (row-major) with the least total cost
 * (Hungarian method with potentials, O(n³)). Returns col[i], the column given to row i.
 */
export function hungarian(cost: Float64Array, n: number): Int32Array {
  if (cost.length !== n * n) throw rangeError('cost', `n·n = ${n * n} entries`, `${cost.length}`);
  // 1-based arrays as in the classic formulation; p[j] is the row matched to column j.
  const u = new Float64Array(n + 1), v = new Float64Array(n + 1);
  const p = new Int32Array(n + 1), way = new Int32Array(n + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(n + 1).fill(Infinity);
    const used = new Uint8Array(n + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0];
      let delta = Infinity, j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = cost[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
        if (cur < minv[j]) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j] < delta) {
          delta = minv[j];
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[p[j]] += delta;
          v[j] -= delta;
        } else {
          minv[j] -= delta;
        }
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0 !== 0);
  }
  const col = new Int32Array(n);
  for (let j = 1; j <= n; j++) col[p[j] - 1] = j - 1;
  return col;
}

/** Pearson correlations between the columns of A and of B (both R×K, row-major): a K×K row-major array. */
export function columnCorrelations(A: ArrayLike<number>, B: ArrayLike<number>, rows: number, K: number): Float64Array {
  const centred = (M: ArrayLike<number>) => {
    const out = new Float64Array(rows * K);
    for (let k = 0; k < K; k++) {
      let mean = 0;
      for (let r = 0; r < rows; r++) mean += M[r * K + k];
      mean /= rows;
      let norm = 0;
      for (let r = 0; r < rows; r++) {
        const c = M[r * K + k] - mean;
        out[r * K + k] = c;
        norm += c * c;
      }
      norm = Math.sqrt(norm);
      for (let r = 0; r < rows; r++) out[r * K + k] = norm > 0 ? out[r * K + k] / norm : 0;
    }
    return out;
  };
  const a = centred(A), b = centred(B);
  const corr = new Float64Array(K * K);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < K; i++) {
      const ai = a[r * K + i];
      for (let j = 0; j < K; j++) corr[i * K + j] += ai * b[r * K + j];
    }
  }
  return corr;
}
