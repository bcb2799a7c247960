// The charts of `betanmf rank` (training and held-out loss against K, with error bars) and
// `betanmf consensus` (the consensus matrix as a heatmap in dendrogram order), as SVG written
// directly, or PNG through resvg as plot.ts does for cost curves.
import type { Matrix } from '../matrix';
import type { RankSummary } from '../rank';

const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11"';

function esc(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function fmt(v: number): string {
  const a = Math.abs(v);
  return v === 0 ? '0' : a >= 1e4 || a < 1e-2 ? v.toExponential(1).replace('e+', 'e') : String(+v.toPrecision(3));
}

/** Training and held-out loss (mean ± one standard error) against K; bestK and chosenK marked. */
export function rankChartSvg(ranks: RankSummary[], bestK: number, chosenK: number, title: string): string {
  const [W, H] = [560, 360], M = { left: 74, right: 130, top: 34, bottom: 46 };
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const ks = ranks.map((r) => r.k);
  const [k0, k1] = [Math.min(...ks), Math.max(...ks)];
  const ys = ranks.flatMap((r) => [r.meanTrainLoss, r.meanTestLoss - r.seTestLoss, r.meanTestLoss + r.seTestLoss]).filter(Number.isFinite);
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!(y1 > y0)) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = 0.05 * (y1 - y0);
  [y0, y1] = [y0 - pad, y1 + pad];
  const sx = (k: number) => M.left + (k1 === k0 ? pw / 2 : ((k - k0) / (k1 - k0)) * pw);
  const sy = (v: number) => M.top + (1 - (v - y0) / (y1 - y0)) * ph;
  const out: string[] = [`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="white" stroke="#999"/>`];
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    out.push(`<line x1="${M.left}" y1="${sy(v)}" x2="${M.left + pw}" y2="${sy(v)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${sy(v) + 4}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const k of ks) out.push(`<text x="${sx(k)}" y="${M.top + ph + 16}" text-anchor="middle">${k}</text>`);
  out.push(`<line x1="${sx(chosenK)}" y1="${M.top}" x2="${sx(chosenK)}" y2="${M.top + ph}" stroke="#2ca02c" stroke-dasharray="4 3"/>`);
  const line = (vals: number[], colour: string) =>
    `<path d="${vals.map((v, i) => `${i ? 'L' : 'M'}${sx(ks[i]).toFixed(1)},${sy(v).toFixed(1)}`).join('')}" fill="none" stroke="${colour}" stroke-width="1.8"/>` +
    vals.map((v, i) => `<circle cx="${sx(ks[i]).toFixed(1)}" cy="${sy(v).toFixed(1)}" r="3" fill="${colour}"/>`).join('');
  out.push(line(ranks.map((r) => r.meanTrainLoss), '#1f77b4'), line(ranks.map((r) => r.meanTestLoss), '#d62728'));
  for (const r of ranks) {
    const [a, b, x] = [sy(r.meanTestLoss - r.seTestLoss), sy(r.meanTestLoss + r.seTestLoss), sx(r.k)];
    out.push(`<path d="M${x},${a}L${x},${b}M${x - 4},${a}L${x + 4},${a}M${x - 4},${b}L${x + 4},${b}" stroke="#d62728"/>`);
  }
  const lx = W - M.right + 12;
  out.push(`<line x1="${lx}" y1="${M.top + 10}" x2="${lx + 18}" y2="${M.top + 10}" stroke="#1f77b4" stroke-width="3"/><text x="${lx + 24}" y="${M.top + 14}">training</text>`,
    `<line x1="${lx}" y1="${M.top + 28}" x2="${lx + 18}" y2="${M.top + 28}" stroke="#d62728" stroke-width="3"/><text x="${lx + 24}" y="${M.top + 32}">held out ± 1 SE</text>`,
    `<line x1="${lx}" y1="${M.top + 46}" x2="${lx + 18}" y2="${M.top + 46}" stroke="#2ca02c" stroke-dasharray="4 3"/><text x="${lx + 24}" y="${M.top + 50}">chosen K = ${chosenK}</text>`,
    `<text x="${lx}" y="${M.top + 68}">lowest: K = ${bestK}</text>`,
    `<text x="${M.left + pw / 2}" y="${H - 10}" text-anchor="middle">K (components)</text>`,
    `<text x="16" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.top + ph / 2})">β-divergence per entry</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="20" text-anchor="middle" font-size="13">${esc(title)}</text>
${out.join('\n')}
</svg>
`;
}

/** Largest side of the heatmap in cells: larger matrices are shown as means over blocks of items. */
const MAX_CELLS = 100;

/** The consensus matrix reordered by `order` (white 0 → dark blue 1); blocks of items averaged above MAX_CELLS. */
export function consensusHeatmapSvg(C: Matrix, order: ArrayLike<number>, title: string): string {
  const n = C.rows, cells = Math.min(n, MAX_CELLS), size = 420, cell = size / cells;
  const block = (c: number) => [Math.floor((c * n) / cells), Math.floor(((c + 1) * n) / cells)];
  const out: string[] = [];
  for (let a = 0; a < cells; a++) {
    const [i0, i1] = block(a);
    for (let b = 0; b < cells; b++) {
      const [j0, j1] = block(b);
      let s = 0;
      for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++) s += C.data[order[i] * n + order[j]];
      const v = s / ((i1 - i0) * (j1 - j0));
      const shade = (c: number) => Math.round(255 + (c - 255) * v);
      if (shade(8) === 255) continue; // white on the white background: no element (keeps large charts small)
      out.push(`<rect x="${(40 + b * cell).toFixed(2)}" y="${(40 + a * cell).toFixed(2)}" width="${(cell + 0.05).toFixed(2)}" height="${(cell + 0.05).toFixed(2)}" fill="rgb(${shade(8)},${shade(48)},${shade(107)})"/>`);
    }
  }
  const W = size + 130, H = size + 60;
  const legend = Array.from({ length: 11 }, (_, i) => {
    const v = 1 - i / 10, shade = (c: number) => Math.round(255 + (c - 255) * v);
    return `<rect x="${size + 60}" y="${40 + i * 20}" width="16" height="20" fill="rgb(${shade(8)},${shade(48)},${shade(107)})"/>` +
      (i % 5 === 0 ? `<text x="${size + 82}" y="${44 + i * 20}">${v.toFixed(1)}</text>` : '');
  }).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>
<rect width="100%" height="100%" fill="white"/>
<text x="${40 + size / 2}" y="24" text-anchor="middle" font-size="13">${esc(title)}</text>
<g shape-rendering="crispEdges">
${out.join('\n')}
</g>
<rect x="40" y="40" width="${size}" height="${size}" fill="none" stroke="#999"/>
${legend}
<text x="${40 + size / 2}" y="${H - 6}" text-anchor="middle">${n > cells ? `items in dendrogram order (means over blocks of ~${(n / cells).toFixed(1)})` : 'items in dendrogram order'}</text>
</svg>
`;
}

export { writeChart } from './chart'; // .svg, or .png through the optional renderer
