import type { ScoringConfig } from './config.js';
import { ScoringError } from './errors.js';

/** Number of latency histogram buckets in a cell. */
export const LATENCY_BUCKETS = 24;
const LATENCY_MIN_MS = 25;
const LATENCY_MAX_MS = 120_000;
const LATENCY_RATIO = Math.pow(LATENCY_MAX_MS / LATENCY_MIN_MS, 1 / (LATENCY_BUCKETS - 2));
const LN_LATENCY_RATIO = Math.log(LATENCY_RATIO);

/**
 * Upper bounds (ms) of the latency buckets: bucket 0 holds latencies <= 25 ms, bucket i <= 25 * r^i,
 * bucket 22 <= 120 s, and the last bucket everything slower. Log spacing keeps the relative error of
 * a percentile read from the histogram about constant (+-18% at worst, before interpolation).
 */
export const LATENCY_BUCKET_BOUNDS_MS: readonly number[] = Object.freeze(
  Array.from({ length: LATENCY_BUCKETS }, (_, i) =>
    i === LATENCY_BUCKETS - 1 ? Infinity : LATENCY_MIN_MS * Math.pow(LATENCY_RATIO, i),
  ),
);

export function latencyBucket(latencyMs: number): number {
  if (!(latencyMs > LATENCY_MIN_MS)) return 0;
  const i = Math.ceil(Math.log(latencyMs / LATENCY_MIN_MS) / Math.log(LATENCY_RATIO) - 1e-9);
  return Math.min(i, LATENCY_BUCKETS - 1);
}

/**
 * Decayed sufficient statistics of one (scope, query type, model). Every field is a sum of
 * contributions scaled by s = 2^((t - epoch) / halfLife), so sums stay linear and any contribution
 * can be subtracted again exactly.
 */
export interface CellSums {
  n: number;
  q: number;
  q2: number;
  requests: number;
  ratings: number;
  failures: number;
  latencyMs: number;
  costUsd: number;
  latencyHist: number[];
}

/** A global cell carries the number of distinct accounts that have a cell for its (query type, model). */
export interface GlobalCellSums extends CellSums {
  contributors: number;
}

/**
 * A copy of a cell's sums as a plain cell, and a global cell with its contributor count. Cells built
 * only by these functions, emptyCell and the arithmetic below share one object layout (two with
 * contributors), which keeps the decision's reads of them monomorphic: cells of assorted layouts (rows
 * with extra columns, spreads, properties added later) made V8 fall back to its generic, several
 * times slower property lookup on the hottest lines of decide().
 */
export function copyCell(c: CellSums): CellSums {
  return {
    n: c.n,
    q: c.q,
    q2: c.q2,
    requests: c.requests,
    ratings: c.ratings,
    failures: c.failures,
    latencyMs: c.latencyMs,
    costUsd: c.costUsd,
    latencyHist: c.latencyHist.slice(),
  };
}

export function globalCell(c: CellSums, contributors: number): GlobalCellSums {
  return withContributors(copyCell(c), contributors);
}

/**
 * A global cell made of a cell that the caller has just built (by the arithmetic below) and shares
 * with no one, without copying it again. Added to every cell in the same way, the property gives every
 * global cell the same layout too.
 */
export function withContributors(fresh: CellSums, contributors: number): GlobalCellSums {
  const cell = fresh as GlobalCellSums;
  cell.contributors = contributors;
  return cell;
}

export function emptyCell(): CellSums {
  return {
    n: 0,
    q: 0,
    q2: 0,
    requests: 0,
    ratings: 0,
    failures: 0,
    latencyMs: 0,
    costUsd: 0,
    latencyHist: zeros(LATENCY_BUCKETS),
  };
}

/** A packed (not holey) array of zeros: V8 iterates packed arrays of doubles fastest. */
function zeros(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(0);
  return out;
}

/** The scale factor of a contribution made at `atMs`. */
export function epochScale(atMs: number, cfg: Pick<ScoringConfig, 'epochMs' | 'halfLifeMs'>): number {
  return Math.pow(2, (atMs - cfg.epochMs) / cfg.halfLifeMs);
}

export interface Contribution {
  /** Quality in [0, 1]; ignored for a failed call. */
  quality?: number | undefined;
  /** 1 for a heuristic signal, the rating weight for a rating. */
  weight?: number | undefined;
  latencyMs?: number | undefined;
  costUsd?: number | undefined;
  /** A failed provider call counts as a failure only (no quality, no request, no latency). */
  failed?: boolean | undefined;
  /** This contribution is a rating (counts in `ratings`). */
  rated?: boolean | undefined;
  atMs: number;
}

/** The cell of one contribution; add it to a cell with addCells, remove it with subtractCells. */
export function contributionCell(c: Contribution, cfg: Pick<ScoringConfig, 'epochMs' | 'halfLifeMs'>): CellSums {
  if (!Number.isFinite(c.atMs))
    throw new ScoringError('INVALID_ARGUMENT', `Contribution atMs must be a finite timestamp in ms; got ${c.atMs}.`);
  const s = epochScale(c.atMs, cfg);
  const cell = emptyCell();
  const cost = c.costUsd ?? 0;
  if (!(cost >= 0)) throw new ScoringError('INVALID_ARGUMENT', `Contribution costUsd must be >= 0; got ${cost}.`);
  cell.costUsd = s * cost;
  if (c.failed) {
    cell.failures = s;
    return cell;
  }
  const w = c.weight ?? 1;
  if (!(w > 0)) throw new ScoringError('INVALID_ARGUMENT', `Contribution weight must be > 0; got ${w}.`);
  const quality = c.quality;
  if (quality === undefined || !(quality >= 0 && quality <= 1))
    throw new ScoringError(
      'INVALID_ARGUMENT',
      `Contribution quality must be in [0, 1] for a successful call; got ${quality}.`,
    );
  cell.n = s * w;
  cell.q = s * w * quality;
  cell.q2 = s * w * quality * quality;
  cell.requests = s;
  if (c.rated) cell.ratings = s;
  if (c.latencyMs !== undefined) {
    if (!(c.latencyMs >= 0))
      throw new ScoringError('INVALID_ARGUMENT', `Contribution latencyMs must be >= 0; got ${c.latencyMs}.`);
    cell.latencyMs = s * c.latencyMs;
    cell.latencyHist[latencyBucket(c.latencyMs)] = s;
  }
  return cell;
}

function combine(a: CellSums, b: CellSums, sign: 1 | -1): CellSums {
  const hist: number[] = [];
  for (let i = 0; i < LATENCY_BUCKETS; i++) hist.push((a.latencyHist[i] ?? 0) + sign * (b.latencyHist[i] ?? 0));
  return {
    n: a.n + sign * b.n,
    q: a.q + sign * b.q,
    q2: a.q2 + sign * b.q2,
    requests: a.requests + sign * b.requests,
    ratings: a.ratings + sign * b.ratings,
    failures: a.failures + sign * b.failures,
    latencyMs: a.latencyMs + sign * b.latencyMs,
    costUsd: a.costUsd + sign * b.costUsd,
    latencyHist: hist,
  };
}

export function addCells(a: CellSums, b: CellSums): CellSums {
  return combine(a, b, 1);
}

/** a - b without clamping: a signed delta (e.g. a rating replacing a heuristic), to be added to a cell later. */
export function diffCells(a: CellSums, b: CellSums): CellSums {
  return combine(a, b, -1);
}

/** a - b: the exact inverse of addCells (up to float rounding, which clampCell removes near zero). */
export function subtractCells(a: CellSums, b: CellSums): CellSums {
  return clampCell(combine(a, b, -1));
}

/**
 * Float rounding can leave a tiny negative remainder after subtracting everything that was added;
 * a weight is never negative, so such residues (relative to the cell's own scale) become zero.
 */
export function clampCell(c: CellSums): CellSums {
  const fix = (v: number) => (v < 0 ? 0 : v);
  return {
    n: fix(c.n),
    q: fix(c.q),
    q2: fix(c.q2),
    requests: fix(c.requests),
    ratings: fix(c.ratings),
    failures: fix(c.failures),
    latencyMs: fix(c.latencyMs),
    costUsd: fix(c.costUsd),
    latencyHist: c.latencyHist.map(fix),
  };
}

/** Merge many cells (e.g. the global cell of a type is the sum of its account cells). */
export function mergeCells(cells: Iterable<CellSums>): CellSums {
  let acc = emptyCell();
  for (const c of cells) acc = addCells(acc, c);
  return acc;
}

/** Re-express a cell against a new epoch (to keep scale factors far from float overflow after decades). */
export function rebaseCell(cell: CellSums, fromEpochMs: number, toEpochMs: number, halfLifeMs: number): CellSums {
  const f = Math.pow(2, (fromEpochMs - toEpochMs) / halfLifeMs);
  return {
    n: cell.n * f,
    q: cell.q * f,
    q2: cell.q2 * f,
    requests: cell.requests * f,
    ratings: cell.ratings * f,
    failures: cell.failures * f,
    latencyMs: cell.latencyMs * f,
    costUsd: cell.costUsd * f,
    latencyHist: cell.latencyHist.map((v) => v * f),
  };
}

/** The decayed view of a cell at `nowMs`. Means are ratios, so decay cancels in them. */
export interface CellView {
  /** Decayed evidence weight (heuristics 1, ratings ratingWeight). */
  n: number;
  /** Weighted mean quality, undefined without evidence. */
  mean: number | undefined;
  /** Weighted variance of quality, undefined without evidence. */
  variance: number | undefined;
  requests: number;
  ratings: number;
  failures: number;
  /** failures / (requests + failures), undefined without any call. */
  failureRate: number | undefined;
  avgLatencyMs: number | undefined;
  p50LatencyMs: number | undefined;
  p95LatencyMs: number | undefined;
  /**
   * Average cost of an answer: everything billed (failed calls included) over the answers. Per call, a
   * model that fails often for free would look cheaper than it is.
   */
  avgCostUsd: number | undefined;
}

const EPS = 1e-12;

/** Weight (in observations, decayed to now) below which a cell holds nothing: a millionth of one answer. */
const MIN_WEIGHT = 1e-6;

/**
 * The scaled amount at or below which a cell's sums are rounding residue, not evidence: a billionth of its
 * largest sum (what an exact subtraction leaves over), and at least MIN_WEIGHT decayed to now (`decay` =
 * 2^(-(now - epoch) / halfLife)): once every contribution is subtracted, all the sums are residue, and a
 * threshold relative to them alone would read a mean out of nothing.
 */
export function cellResidue(cell: CellSums, decay: number): number {
  const relative = Math.max(cell.n, cell.requests, cell.failures, EPS) * 1e-9;
  const absolute = MIN_WEIGHT / decay;
  return relative > absolute ? relative : absolute;
}

export function readCell(cell: CellSums, nowMs: number, cfg: Pick<ScoringConfig, 'epochMs' | 'halfLifeMs'>): CellView {
  return readCellScaled(cell, 1 / epochScale(nowMs, cfg), true);
}

/**
 * readCell with the decay factor 2^(-(now - epoch) / halfLife) computed once by the caller (the
 * decision path reads dozens of cells at the same instant); without p95 when `p95` is false.
 */
export function readCellScaled(cell: CellSums, f: number, p95: boolean, latency = true): CellView {
  // No closures here: this runs for every candidate of every decision.
  const scale = cellResidue(cell, f);
  const mean = cell.n > scale && cell.n > 0 ? cell.q / cell.n : undefined;
  const variance = mean !== undefined ? Math.max(0, cell.q2 / cell.n - mean * mean) : undefined;
  const calls = cell.requests + cell.failures;
  const hasCalls = calls > scale && calls > 0;
  const hasRequests = cell.requests > scale && cell.requests > 0;
  let histTotal = 0;
  if (latency) for (let i = 0; i < cell.latencyHist.length; i++) histTotal += cell.latencyHist[i]!;
  const hasHist = histTotal > scale && histTotal > 0;
  return {
    n: cell.n * f,
    mean,
    variance,
    requests: cell.requests * f,
    ratings: cell.ratings * f,
    failures: cell.failures * f,
    failureRate: hasCalls ? cell.failures / calls : undefined,
    avgLatencyMs: hasRequests && cell.latencyMs > 0 ? cell.latencyMs / cell.requests : undefined,
    p50LatencyMs: hasHist ? histogramQuantile(cell.latencyHist, 0.5, histTotal) : undefined,
    p95LatencyMs: p95 && hasHist ? histogramQuantile(cell.latencyHist, 0.95, histTotal) : undefined,
    avgCostUsd: hasRequests ? cell.costUsd / cell.requests : undefined,
  };
}

/**
 * The lower bound of each bucket, in a typed array: V8 reads a frozen array's elements slowly, and with
 * the bound read from the frozen public array the decision's thirty latency medians took about 1.6
 * times as long (same values either way).
 */
const BUCKET_LOWER_MS = Float64Array.from(LATENCY_BUCKET_BOUNDS_MS, (_, i) =>
  i === 0 ? LATENCY_MIN_MS / LATENCY_RATIO : LATENCY_BUCKET_BOUNDS_MS[i - 1]!,
);

/** Quantile from a latency histogram, interpolated geometrically within the bucket. */
export function histogramQuantile(hist: readonly number[], p: number, total = hist.reduce((s, v) => s + v, 0)): number {
  const target = p * total;
  let acc = 0;
  const n = Math.min(hist.length, LATENCY_BUCKETS);
  for (let i = 0; i < n; i++) {
    const v = hist[i] ?? 0;
    if (v > 0 && acc + v >= target) {
      // Every bucket spans the same ratio (the last is treated as one more bucket of that ratio).
      const lo = BUCKET_LOWER_MS[i]!;
      return lo * Math.exp(((target - acc) / v) * LN_LATENCY_RATIO);
    }
    acc += v;
  }
  return LATENCY_MAX_MS;
}

/**
 * Whether a global cell may steer an account's routing or appear in its answers (K-anonymity): K accounts
 * besides the one asking must back it. `own` is the asking account's cell of the same (query type, model):
 * with an answered request in it the account is one of the cell's contributors, as the store counts them,
 * and counted among the K it could subtract its own share and read the aggregate of K - 1 others.
 */
export function isGlobalCellUsable(
  cell: Pick<GlobalCellSums, 'contributors'> | undefined,
  cfg: Pick<ScoringConfig, 'anonymityK'>,
  own?: Pick<CellSums, 'requests'> | undefined,
): boolean {
  if (cell === undefined) return false;
  return cell.contributors - (own !== undefined && own.requests > 0 ? 1 : 0) >= cfg.anonymityK;
}
