// Cost curves as an SVG written directly (two panels: cost against time and against epoch,
// log-scaled cost), and as PNG through resvg (a well-kept SVG renderer, an optional package
// loaded only for PNG).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HistoryEntry } from '../betanmf';
import { fsErrorText } from '../files';
import { tempNameFor } from '../io';
import { loadPackage, requirePackages } from '../optional';
import { UsageError } from './io';

export interface Series {
  label: string;
  points: { epoch: number; seconds: number; cost: number }[];
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const W = 480, H = 340, M = { left: 70, right: 16, top: 30, bottom: 46 };

function esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (hi <= lo) return [lo];
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0)!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) out.push(+v.toPrecision(12));
  return out;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(0).replace('e+', 'e') : String(+v.toPrecision(3));
}

function panel(series: Series[], x: 'seconds' | 'epoch', offsetX: number): string {
  const pts = series.flatMap((s) => s.points).filter((p) => p.cost > 0 && Number.isFinite(p.cost));
  if (!pts.length) return '';
  const xs = pts.map((p) => p[x]), ys = pts.map((p) => Math.log10(p.cost));
  const [x0, x1] = [Math.min(0, ...xs), Math.max(...xs) || 1];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const sx = (v: number) => offsetX + M.left + ((v - x0) / (x1 - x0)) * pw;
  const sy = (v: number) => M.top + (1 - (v - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(`<rect x="${offsetX + M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="white" stroke="#999"/>`);
  for (const t of niceTicks(x0, x1)) {
    out.push(`<line x1="${sx(t)}" y1="${M.top}" x2="${sx(t)}" y2="${M.top + ph}" stroke="#eee"/>`);
    out.push(`<text x="${sx(t)}" y="${M.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  const decades = Math.ceil(y1) - Math.floor(y0) <= 1;
  const yt = decades ? niceTicks(y0, y1, 4) : niceTicks(Math.ceil(y0), Math.floor(y1), 5).filter(Number.isInteger);
  for (const t of yt) {
    out.push(`<line x1="${offsetX + M.left}" y1="${sy(t)}" x2="${offsetX + M.left + pw}" y2="${sy(t)}" stroke="#eee"/>`);
    out.push(`<text x="${offsetX + M.left - 6}" y="${sy(t) + 4}" text-anchor="end">${fmt(10 ** t)}</text>`);
  }
  series.forEach((s, i) => {
    const d = s.points
      .filter((p) => p.cost > 0 && Number.isFinite(p.cost))
      .map((p, j) => `${j ? 'L' : 'M'}${sx(p[x]).toFixed(1)},${sy(Math.log10(p.cost)).toFixed(1)}`)
      .join('');
    out.push(`<path d="${d}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1.8"/>`);
  });
  out.push(`<text x="${offsetX + M.left + pw / 2}" y="${H - 10}" text-anchor="middle">${x === 'seconds' ? 'time (s)' : 'epoch'}</text>`);
  out.push(`<text x="${offsetX + 16}" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 ${offsetX + 16} ${M.top + ph / 2})">cost (log scale)</text>`);
  return out.join('\n');
}

export function renderSvg(series: Series[], title: string): string {
  const legend = series
    .map((s, i) => {
      const y = 22 + 16 * i;
      return `<line x1="${2 * W - 150}" y1="${y + 20}" x2="${2 * W - 130}" y2="${y + 20}" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="3"/>` +
        `<text x="${2 * W - 124}" y="${y + 24}">${esc(s.label)}</text>`;
    })
    .join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H}" viewBox="0 0 ${2 * W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="${W}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>
${panel(series, 'seconds', 0)}
${panel(series, 'epoch', W)}
${legend}
</svg>
`;
}

export const PLOT_EXTENSIONS = ['.svg', '.png'];
const PNG_RENDERER = '@resvg/resvg-js';

/** Before any work: a chart named `file` can be drawn here (a .png needs the optional renderer). */
export function checkChartRenderer(file: string): void {
  if (path.extname(file).toLowerCase() === '.png') requirePackages('a .png chart', PNG_RENDERER);
}

/** An SVG chart as .svg or .png bytes, after the file's extension. */
export function chartBytes(file: string, svg: string): Buffer {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.svg') return Buffer.from(svg);
  if (ext === '.png') {
    const { Resvg } = loadPackage<typeof import('@resvg/resvg-js')>(PNG_RENDERER, 'a .png chart');
    return new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true } }).render().asPng();
  }
  throw new UsageError(`${file}: expected a .svg or .png file name`);
}

/** The cost chart as .svg or .png bytes. */
export function renderPlot(file: string, series: Series[], title: string): Buffer {
  return chartBytes(file, renderSvg(series, title));
}

/** Writes an SVG chart (as .svg or .png) atomically: a temporary file in the same folder, renamed. */
export function writeChart(file: string, svg: string): void {
  const bytes = chartBytes(file, svg);
  const tmp = tempNameFor(file);
  try {
    fs.writeFileSync(tmp, bytes, { flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Writes the cost chart atomically. */
export function writePlot(file: string, series: Series[], title: string): void {
  writeChart(file, renderSvg(series, title));
}

/** What a history.json written by `betanmf fit` says about its run. */
export interface Run extends Series {
  file: string;
  components?: number;
  seed?: number;
  solver?: string;
  beta?: number;
}

/** The series in a history.json written by `betanmf fit`. */
export function readHistory(file: string): Run {
  let json: { solver?: string; beta?: number; components?: number; seed?: number; history?: unknown };
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const fsError = fsErrorText(err);
    throw new UsageError(fsError ? `${fsError.startsWith(file) ? '' : `${file}: `}${fsError}` : `${file}: not a readable history.json (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || !Array.isArray(json.history)) {
    throw new UsageError(`${file}: expected a history.json from \`betanmf fit\` (no "history" array)`);
  }
  const points = (json.history as { epoch: number; seconds: number; cost?: number }[])
    .filter((h) => typeof h.cost === 'number')
    .map((h) => ({ epoch: h.epoch, seconds: h.seconds, cost: h.cost! }));
  return { label: file, points, file, components: json.components, seed: json.seed, solver: json.solver, beta: json.beta };
}

/**
 * Labels runs by their file (the folder of a history.json), adding K, seed, solver and β
 * where the runs differ in them, so two curves never share a label.
 */
export function labelRuns(runs: Run[]): Series[] {
  const differ = (key: 'components' | 'seed' | 'solver' | 'beta') => new Set(runs.map((r) => r[key])).size > 1;
  const name = (r: Run) => (path.basename(r.file) === 'history.json' ? path.dirname(r.file) : r.file);
  const parts: [key: 'components' | 'seed' | 'solver' | 'beta', show: (v: unknown) => string][] = [
    ['components', (v) => `K=${v}`], ['seed', (v) => `seed ${v}`], ['solver', (v) => `${v}`], ['beta', (v) => `β=${v}`],
  ];
  const shown = parts.filter(([k]) => differ(k));
  return runs.map((r) => ({
    label: [runs.length > 1 ? name(r) : `${name(r)}: ${r.solver ?? ''} β=${r.beta ?? '?'}`, ...shown.map(([k, f]) => (r[k] === undefined ? '' : f(r[k])))]
      .filter((x) => x !== '').join(', '),
    points: r.points,
  }));
}

/** The evaluated costs of a fit's history, as a chart's points. */
export function costPoints(history: readonly HistoryEntry[]): Series['points'] {
  return history.filter((h) => h.cost !== undefined).map((h) => ({ epoch: h.epoch, seconds: h.seconds, cost: h.cost! }));
}
