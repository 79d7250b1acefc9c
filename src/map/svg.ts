/**
 * The SVG picture of a frame map: a title with totals, the grid (one cell per frame, or per
 * power-of-two group of frames in a large region, drawn as stacked strips of its kinds), the
 * marks (unique border, linked-list bead, forgotten-reference corner, reference counts), two
 * bars of free memory (runs in address order; runs by size) and a legend with counts. Every
 * string from the map goes through `escapeXml`.
 */
import { escapeXml } from './escape.js';
import { STATE_CODE, type FrameMap, type FrameMapType, type FrameRun, type FrameState, stateOfCode } from './format.js';
import { type CellContents, type GridPlan, cellContents, planGrid } from './grid.js';
import {
  BUSY_HATCH,
  FORGOTTEN_MARK,
  INK,
  LARGEST_RUN,
  LIST_BEAD,
  MUTED_INK,
  NOT_FREE,
  OTHER_RUN,
  STATE_FILL,
  UNIQUE_BORDER,
  refLightness,
  textOn,
  typeFill,
  typeSwatch,
  hsl,
} from './palette.js';
import {
  FRAGMENTATION_MEANING,
  STATE_LABEL,
  captureLine,
  describeCell,
  describeFrame,
  formatBytes,
  fragmentationLine,
  heapLine,
  hexPaddr,
  percent,
  totalsLine,
  typeName,
  typesById,
} from './text.js';

/** What `frameMapSvg` needs (`renderFrameMap` fills in the defaults). */
export interface SvgOptions {
  readonly title: string;
  readonly columns: number;
  readonly maxCells: number;
  /** A `<title>` tooltip per cell. */
  readonly tooltips: boolean;
  /** Start with `<?xml …?>` (a standalone file), or not (inline in HTML). */
  readonly xmlDeclaration: boolean;
  /** Draw the title, totals and capture lines (false when the HTML page shows them). */
  readonly header: boolean;
}

const MARGIN = 20;
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
const MONO = "ui-monospace, 'SF Mono', Menlo, Consolas, 'DejaVu Sans Mono', monospace";
/** Free runs drawn one by one in the bars; past that, by pixel (address order) or as one rest block (by size). */
const MAX_DRAWN_RUNS = 1500;
const MAX_SIZED_RUNS = 400;
const LEGEND_ITEM_WIDTH = 320;
const LEGEND_ROW = 20;
const ID = 'pfmap';

/** An SVG picture of `map`. */
export function frameMapSvg(map: FrameMap, o: SvgOptions): string {
  const plan = planGrid(map.nframes, o.columns, o.maxCells);
  const types = typesById(map);
  const cell = Math.max(10, Math.min(28, Math.floor(896 / plan.columns)));
  const labelWidth = Math.ceil(hexPaddr(map, 0).length * 6.8) + 12;
  const gridX = MARGIN + labelWidth;
  const gridW = plan.columns * cell;
  const width = Math.max(gridX + gridW + MARGIN, 760);
  const out: string[] = [];
  let y = MARGIN;

  // Title and totals, each wrapped to the picture's width (a line is never cut off at its edge).
  const lines = (s: string, st: TextStyle, lead: number): void => {
    for (const line of wrap(s, width - 2 * MARGIN, st)) out.push(text(MARGIN, (y += lead), line, st));
  };
  if (o.header) {
    lines(o.title, { size: 20, weight: 'bold' }, 22);
    lines(totalsLine(map), { size: 14 }, 20);
    lines(captureLine(map), { size: 11, fill: MUTED_INK }, 16);
  }
  const perCell =
    plan.framesPerCell === 1
      ? `One cell per frame (${formatBytes(map.pageSize)}), rows of ${plan.columns} frames; the paddr of each row on the left.`
      : `Aggregated: 1 cell = ${plan.framesPerCell} frames (${formatBytes(plan.framesPerCell * map.pageSize)}), ` +
        `${plan.cells} cells; a cell is split into strips by the share of each kind of frame in it.`;
  lines(perCell, { size: 11, fill: MUTED_INK }, 16);
  const folds = foldRows(map, plan);
  if (folds.size > 0) lines(FOLD_MEANING, { size: 11, fill: MUTED_INK }, 16);

  // Column ticks, then the grid.
  y += 10;
  const step = plan.columns >= 16 ? 8 : plan.columns >= 4 ? 2 : 1;
  for (let c = 0; c < plan.columns; c += step) {
    out.push(text(gridX + c * cell + 1, y + 9, `+${c * plan.framesPerCell}`, { size: 9, fill: MUTED_INK }));
  }
  y += 14;
  // Where each row is drawn: a run of folded rows takes one band of FOLD_HEIGHT.
  const rowY: number[] = [];
  let gridH = 0;
  for (let r = 0; r < plan.rows; ) {
    const fold = folds.get(r);
    if (fold !== undefined) {
      for (let k = 0; k < fold; k++) rowY.push(y + gridH);
      gridH += FOLD_HEIGHT;
      r += fold;
    } else {
      rowY.push(y + gridH);
      gridH += cell;
      r++;
    }
  }
  out.push(grid(map, plan, types, gridX, rowY, folds, cell, gridW, o.tooltips));
  const shown = rowY.map((_, r) => r).filter((r) => !isFolded(folds, r));
  const labelEvery = Math.max(1, Math.ceil(shown.length / 64));
  shown.forEach((r, i) => {
    if (i % labelEvery !== 0) return;
    const paddr = r * plan.columns * plan.framesPerCell * map.pageSize;
    out.push(text(gridX - 6, rowY[r] + cell / 2 + 4, hexPaddr(map, paddr), { size: 10, fill: MUTED_INK, anchor: 'end', mono: true }));
  });
  y += gridH + 26;
  const heap = heapLine(map);
  if (heap !== '') {
    out.push(text(MARGIN, y, heap, { size: 12 }));
    y += 26;
  }

  // Free memory.
  out.push(text(MARGIN, y, 'Free memory', { size: 14, weight: 'bold' }));
  out.push(text(MARGIN, (y += 18), fragmentationLine(map), { size: 12 }));
  const barW = width - 2 * MARGIN;
  y += 16;
  const largest = largestRun(map.freeRuns);
  const where = largest === undefined ? '' : ` (green: the largest, at ${hexPaddr(map, largest[0] * map.pageSize)})`;
  out.push(text(MARGIN, (y += 4), `Free runs in address order${where}; dark: not free`, { size: 11, fill: MUTED_INK }));
  y += 6;
  out.push(addressBar(map, largest, MARGIN, y, barW, 14));
  y += 14;
  out.push(text(MARGIN, y + 11, hexPaddr(map, 0), { size: 9, fill: MUTED_INK, mono: true }));
  out.push(text(MARGIN + barW, y + 11, hexPaddr(map, map.nframes * map.pageSize), { size: 9, fill: MUTED_INK, anchor: 'end', mono: true }));
  y += 26;
  out.push(text(MARGIN, y, 'Free runs by size, largest first (the width of the bar is all free memory)', { size: 11, fill: MUTED_INK }));
  y += 6;
  const bar = sizeBar(map, MARGIN, y, barW, 14);
  out.push(bar.svg);
  y += 14 + 16;
  if (bar.note !== undefined) {
    out.push(text(MARGIN, y, bar.note, { size: 10, fill: MUTED_INK }));
    y += 15;
  }
  out.push(text(MARGIN, y, FRAGMENTATION_MEANING, { size: 10, fill: MUTED_INK }));
  y += 28;

  // Legend.
  const legend = legendSections(map);
  const perRow = Math.max(1, Math.floor((width - 2 * MARGIN) / LEGEND_ITEM_WIDTH));
  for (const section of legend) {
    out.push(text(MARGIN, y, section.heading, { size: 13, weight: 'bold' }));
    y += 24;
    section.items.forEach((item, i) => {
      const x = MARGIN + (i % perRow) * LEGEND_ITEM_WIDTH;
      const iy = y + Math.floor(i / perRow) * LEGEND_ROW;
      out.push(legendItem(item, x, iy));
    });
    y += Math.ceil(section.items.length / perRow) * LEGEND_ROW + 12;
  }
  const height = y;

  const head = o.xmlDeclaration ? '<?xml version="1.0" encoding="UTF-8"?>\n' : '';
  return (
    head +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="${escapeXml(FONT)}" role="img" aria-label="${escapeXml(`${o.title}: ${totalsLine(map)}`)}">\n` +
    `<title>${escapeXml(`${o.title}: ${totalsLine(map)}`)}</title>\n` +
    defs() +
    `<rect width="${width}" height="${height}" fill="#ffffff"/>\n` +
    out.join('\n') +
    '\n</svg>\n'
  );
}

function defs(): string {
  return (
    '<defs>' +
    `<pattern id="${ID}-busy" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
    `<rect width="5" height="5" fill="${STATE_FILL.busy}"/><rect width="2" height="5" fill="${BUSY_HATCH}"/></pattern>` +
    `<pattern id="${ID}-rest" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
    `<rect width="4" height="4" fill="${OTHER_RUN}"/><rect width="1" height="4" fill="#ffffff"/></pattern>` +
    '</defs>\n'
  );
}

interface TextStyle {
  size: number;
  weight?: 'bold';
  fill?: string;
  anchor?: 'end' | 'middle';
  mono?: boolean;
}

function text(x: number, y: number, s: string, st: TextStyle): string {
  const attrs =
    `x="${r2(x)}" y="${r2(y)}" font-size="${st.size}"` +
    (st.weight !== undefined ? ` font-weight="${st.weight}"` : '') +
    ` fill="${st.fill ?? INK}"` +
    (st.anchor !== undefined ? ` text-anchor="${st.anchor}"` : '') +
    (st.mono === true ? ` font-family="${escapeXml(MONO)}"` : '');
  return `<text ${attrs}>${escapeXml(s)}</text>`;
}

/**
 * `s` in lines that fit `width` pixels in style `st`, broken at spaces (a word longer than a line
 * stands alone). Widths are estimated (SVG has no text measurement without a renderer): a
 * proportional sans-serif character is taken as 0.6 of the font size, 0.64 in bold.
 */
function wrap(s: string, width: number, st: TextStyle): string[] {
  const max = Math.max(8, Math.floor(width / (st.size * (st.weight === 'bold' ? 0.64 : 0.6))));
  const out: string[] = [];
  let line = '';
  for (const word of s.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > max) {
      out.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  out.push(line);
  return out;
}

function r2(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** The fill of a state drawn without a type colour. */
function plainFill(state: Exclude<FrameState, 'shared' | 'unique'>): string {
  return state === 'busy' ? `url(#${ID}-busy)` : STATE_FILL[state];
}

/** Rows of free frames only, at least this many in a row, are drawn as one band... */
const MIN_FOLDED_ROWS = 3;
/** ...in a grid of at least this many rows (a shorter picture shows every frame). */
const MIN_ROWS_TO_FOLD = 8;
/** The height of such a band. */
const FOLD_HEIGHT = 18;
const FOLD_MEANING = 'Three or more rows in which every frame is free in the allocator are folded into one band that says how many.';

/**
 * The runs of at least MIN_FOLDED_ROWS whole rows whose every frame is free in the allocator
 * (`free`): first row -> number of rows. A large region that is mostly empty then shows what is
 * in use, not dozens of rows of free cells.
 */
function foldRows(map: FrameMap, plan: GridPlan): Map<number, number> {
  const perRow = plan.columns * plan.framesPerCell;
  const free = STATE_CODE.free;
  const empty = (r: number): boolean => {
    const end = Math.min(map.nframes, (r + 1) * perRow);
    for (let k = r * perRow; k < end; k++) if (map.states[k] !== free) return false;
    return true;
  };
  const folds = new Map<number, number>();
  if (plan.rows < MIN_ROWS_TO_FOLD) return folds;
  for (let r = 0; r < plan.rows; ) {
    let n = 0;
    while (r + n < plan.rows && empty(r + n)) n++;
    if (n >= MIN_FOLDED_ROWS) folds.set(r, n);
    r += Math.max(1, n);
  }
  return folds;
}

function isFolded(folds: ReadonlyMap<number, number>, row: number): boolean {
  for (const [first, n] of folds) if (row >= first && row < first + n) return true;
  return false;
}

function grid(
  map: FrameMap,
  plan: GridPlan,
  types: ReadonlyMap<number, FrameMapType>,
  x0: number,
  rowY: readonly number[],
  folds: ReadonlyMap<number, number>,
  cell: number,
  gridW: number,
  tooltips: boolean,
): string {
  const out: string[] = [`<g class="grid" data-frames-per-cell="${plan.framesPerCell}" data-cells="${plan.cells}">`];
  const size = cell - 1;
  const numbers = plan.framesPerCell === 1 && cell >= 14;
  const perRow = plan.columns * plan.framesPerCell;
  for (const [first, n] of folds) {
    const frames = Math.min(map.nframes, (first + n) * perRow) - first * perRow;
    const from = hexPaddr(map, first * perRow * map.pageSize);
    const to = hexPaddr(map, (first * perRow + frames) * map.pageSize);
    const say = `\u22ef ${n} rows, all free: ${frames} frames (${formatBytes(frames * map.pageSize)}) from ${from} to ${to} \u22ef`;
    out.push(
      `<g class="folded-rows" data-rows="${n}" data-frames="${frames}">` +
        `<rect x="${x0}" y="${rowY[first] + 1}" width="${gridW - 1}" height="${FOLD_HEIGHT - 3}" fill="${STATE_FILL.free}" stroke="#c4c9d0" stroke-width="0.5" stroke-dasharray="3 2"/>` +
        text(x0 + gridW / 2, rowY[first] + FOLD_HEIGHT / 2 + 3, say, { size: 10, fill: MUTED_INK, anchor: 'middle' }) +
        '</g>',
    );
  }
  for (let i = 0; i < plan.cells; i++) {
    const row = Math.floor(i / plan.columns);
    if (folds.size > 0 && isFolded(folds, row)) {
      i = (row + 1) * plan.columns - 1; // the rest of the row is folded too
      continue;
    }
    const x = x0 + (i % plan.columns) * cell;
    const y = rowY[row];
    const parts: string[] = [];
    let tip: string;
    let forgotten: number;
    if (plan.framesPerCell === 1) {
      const state = stateOfCode(map.states[i]) ?? 'busy';
      tip = describeFrame(map, types, i, state);
      parts.push(frameCell(map, types, i, state, x, y, size, numbers));
      forgotten = map.forgotten[i];
    } else {
      const c = cellContents(map, plan, i);
      tip = describeCell(map, types, c);
      parts.push(aggregateCell(c, types, x, y, size));
      forgotten = c.forgotten;
    }
    if (forgotten > 0) {
      const s = Math.max(4, size * 0.45);
      parts.push(`<path d="M${r2(x + size - s)} ${y}H${x + size}V${r2(y + s)}Z" fill="${FORGOTTEN_MARK}"/>`);
    }
    out.push(`<g class="cell">${tooltips ? `<title>${escapeXml(tip)}</title>` : ''}${parts.join('')}</g>`);
  }
  out.push('</g>');
  return out.join('\n');
}

/** One frame: its fill, the unique border, the list bead, its count. */
function frameCell(map: FrameMap, types: ReadonlyMap<number, FrameMapType>, k: number, state: FrameState, x: number, y: number, size: number, numbers: boolean): string {
  if (state !== 'shared' && state !== 'unique') {
    return `<rect x="${x}" y="${y}" width="${size}" height="${size}" fill="${plainFill(state)}"/>`;
  }
  const name = typeName(types, map.typeIds[k]);
  const refs = map.refCounts[k];
  const fill = typeFill(name, refs, state === 'unique');
  let s: string;
  if (state === 'unique') {
    s = `<rect x="${x + 0.75}" y="${y + 0.75}" width="${size - 1.5}" height="${size - 1.5}" fill="${fill}" stroke="${UNIQUE_BORDER}" stroke-width="1.5"/>`;
  } else {
    s = `<rect x="${x}" y="${y}" width="${size}" height="${size}" fill="${fill}"/>`;
  }
  if (map.lists[k] > 0) s += bead(x + size / 2, y + size / 2, size);
  if (numbers && state === 'shared' && refs >= 2) {
    const label = refs > 99 ? '99+' : String(refs);
    const fs = Math.min(11, Math.floor(size * (label.length > 2 ? 0.45 : 0.62)));
    s += `<text x="${r2(x + size / 2)}" y="${r2(y + size / 2 + fs * 0.36)}" font-size="${fs}" font-weight="bold" text-anchor="middle" fill="${textOn(fill)}">${label}</text>`;
  }
  return s;
}

function bead(cx: number, cy: number, size: number): string {
  return `<circle cx="${r2(cx)}" cy="${r2(cy)}" r="${r2(Math.max(1.8, size * 0.15))}" fill="${LIST_BEAD}" stroke="${UNIQUE_BORDER}" stroke-width="1"/>`;
}

/** An aggregated cell: one vertical strip per kind of frame, as wide as its share. */
function aggregateCell(c: CellContents, types: ReadonlyMap<number, FrameMapType>, x: number, y: number, size: number): string {
  let s = '';
  let at = 0;
  for (const p of c.parts) {
    const w = (p.frames / c.count) * size;
    const fill = p.state === 'shared' || p.state === 'unique' ? typeFill(typeName(types, p.type), 1, p.state === 'unique') : plainFill(p.state);
    s += `<rect x="${r2(x + at)}" y="${y}" width="${r2(w)}" height="${size}" fill="${fill}"/>`;
    at += w;
  }
  if (c.inList > 0) s += bead(x + size / 2, y + size / 2, size);
  return s;
}

/** The first of the largest free runs. */
function largestRun(runs: readonly FrameRun[]): FrameRun | undefined {
  let best: FrameRun | undefined;
  for (const r of runs) if (best === undefined || r[1] > best[1]) best = r;
  return best;
}

/** Free runs where they lie in the region; the largest in green. */
function addressBar(map: FrameMap, largest: FrameRun | undefined, x: number, y: number, w: number, h: number): string {
  const n = map.nframes;
  const out = [`<g class="free-address">`, `<rect x="${x}" y="${y}" width="${r2(w)}" height="${h}" fill="${NOT_FREE}"/>`];
  const runRect = (start: number, len: number, fill: string, opacity = 1): string =>
    `<rect x="${r2(x + (start / n) * w)}" y="${y}" width="${r2(Math.max((len / n) * w, 0.75))}" height="${h}" fill="${fill}"` +
    (opacity < 1 ? ` fill-opacity="${r2(opacity)}"` : '') +
    '/>';
  if (map.freeRuns.length <= MAX_DRAWN_RUNS) {
    for (const [start, len] of map.freeRuns) if (start !== largest?.[0]) out.push(runRect(start, len, OTHER_RUN));
  } else {
    // Too many runs to draw one by one: the share of free frames under each pixel, in eighths.
    const px = Math.max(1, Math.floor(w));
    const free = new Float64Array(px);
    for (const [start, len] of map.freeRuns) {
      for (let f = start; f < start + len; ) {
        const p = Math.min(px - 1, Math.floor((f / n) * px));
        const pEnd = Math.min(start + len, Math.ceil(((p + 1) / px) * n));
        const take = Math.max(1, pEnd - f);
        free[p] += take;
        f += take;
      }
    }
    const per = n / px;
    let from = 0;
    const level = (p: number): number => Math.round((free[p] / per) * 8) / 8;
    for (let p = 1; p <= px; p++) {
      if (p < px && level(p) === level(from)) continue;
      if (level(from) > 0) out.push(runRect((from / px) * n, ((p - from) / px) * n, OTHER_RUN, level(from)));
      from = p;
    }
  }
  if (largest !== undefined) out.push(runRect(largest[0], largest[1], LARGEST_RUN));
  out.push('</g>');
  return out.join('');
}

/**
 * Free runs sorted by size, largest first, over the whole width; a long tail as one hatched
 * block, which `note` explains.
 */
function sizeBar(map: FrameMap, x: number, y: number, w: number, h: number): { svg: string; note?: string } {
  const total = map.fragmentation.freeFrames;
  const out = [`<g class="free-by-size">`];
  if (total === 0) {
    out.push(`<rect x="${x}" y="${y}" width="${r2(w)}" height="${h}" fill="#ffffff" stroke="${NOT_FREE}"/>`);
    out.push(text(x + 6, y + h - 3, 'nothing is free', { size: 10, fill: MUTED_INK }));
    out.push('</g>');
    return { svg: out.join('') };
  }
  const sizes = map.freeRuns.map((r) => r[1]).sort((a, b) => b - a);
  let at = 0;
  const shown = Math.min(sizes.length, MAX_SIZED_RUNS);
  for (let i = 0; i < shown; i++) {
    const rw = (sizes[i] / total) * w;
    const stroke = rw >= 3 ? ' stroke="#ffffff" stroke-width="1"' : '';
    out.push(`<rect x="${r2(x + at)}" y="${y}" width="${r2(rw)}" height="${h}" fill="${i === 0 ? LARGEST_RUN : OTHER_RUN}"${stroke}/>`);
    at += rw;
  }
  let note: string | undefined;
  if (shown < sizes.length) {
    const rest = sizes.slice(shown);
    const frames = rest.reduce((a, b) => a + b, 0);
    out.push(`<rect x="${r2(x + at)}" y="${y}" width="${r2(w - at)}" height="${h}" fill="url(#${ID}-rest)"/>`);
    note = `Hatched at the right end: ${rest.length} more runs (${frames} frames), of at most ${rest[0]} frame${rest[0] === 1 ? '' : 's'} each.`;
  }
  const firstW = (sizes[0] / total) * w;
  const label = `largest: ${sizes[0]} frames (${formatBytes(sizes[0] * map.pageSize)}), ${percent(sizes[0], total)} of free`;
  if (firstW > label.length * 6 + 8) out.push(text(x + 5, y + h - 3.5, label, { size: 10, fill: '#ffffff', weight: 'bold' }));
  out.push('</g>');
  return { svg: out.join(''), ...(note !== undefined ? { note } : {}) };
}

/** A legend entry: a swatch (drawn at x, y-11 in a 14×14 box), a label, a count. */
interface LegendItem {
  readonly key: string;
  readonly swatch: (x: number, y: number) => string;
  readonly label: string;
  readonly count: number | string;
  /** The full text for a tooltip when the label is cut. */
  readonly full?: string;
  readonly name?: string;
  /** Where the label starts, from the swatch (default 20). */
  readonly labelX?: number;
}

interface LegendSection {
  readonly heading: string;
  readonly items: LegendItem[];
}

function box(fill: string, extra = ''): (x: number, y: number) => string {
  return (x, y) => `<rect x="${x}" y="${y - 11}" width="14" height="14" fill="${fill}"${extra}/>`;
}

function legendSections(map: FrameMap): LegendSection[] {
  const c = map.counts;
  // Swatches of no type in particular: three type-like hues, a grey ramp for counts.
  const hues = (x: number, y: number): string =>
    [40, 150, 265].map((h, i) => `<rect x="${r2(x + (i * 14) / 3)}" y="${y - 11}" width="${r2(14 / 3)}" height="14" fill="${hsl(h, 65, refLightness(1))}"/>`).join('');
  const uniqueBox = (x: number, y: number): string =>
    `${hues(x, y)}<rect x="${x + 0.75}" y="${y - 10.25}" width="12.5" height="12.5" fill="none" stroke="${UNIQUE_BORDER}" stroke-width="1.5"/>`;
  const states: LegendItem[] = [
    { key: 'shared', swatch: hues, label: 'shared (type colour, shade = refs)', count: c.shared, full: STATE_LABEL.shared },
    { key: 'unique', swatch: uniqueBox, label: 'unique (dark border)', count: c.unique, full: STATE_LABEL.unique },
    { key: 'busy', swatch: box(plainFill('busy')), label: 'busy (mid-operation or deferred)', count: c.busy, full: STATE_LABEL.busy },
    { key: 'raw', swatch: box(STATE_FILL.raw), label: 'raw: no handle, not free (mid-alloc/drop)', count: c.raw, full: STATE_LABEL.raw },
    { key: 'free', swatch: box(STATE_FILL.free, ' stroke="#c4c9d0" stroke-width="0.5"'), label: 'free in the allocator', count: c.free, full: STATE_LABEL.free },
    { key: 'cached', swatch: box(STATE_FILL.cached), label: '\u2026 of them in worker caches', count: c.cached, full: STATE_LABEL.cached },
  ];
  const lists = map.linkedLists.length;
  const marks: LegendItem[] = [
    {
      key: 'inList',
      swatch: (x, y) => `${uniqueBox(x, y)}${bead(x + 7, y - 4, 14)}`,
      label: `bead: in a linked list (${lists} list${lists === 1 ? '' : 's'})`,
      full: 'a white bead: the frame is in a linked list (it is unique)',
      count: c.inList,
    },
    {
      key: 'forgotten',
      swatch: (x, y) => `${hues(x, y)}<path d="M${x + 7} ${y - 11}H${x + 14}V${y - 4}Z" fill="${FORGOTTEN_MARK}"/>`,
      label: map.checked ? `red corner: forgotten (${c.forgottenRefs} refs)` : 'red corner: forgotten (checked only)',
      full: map.checked
        ? `a red corner: references forgotten with intoRaw (${c.forgottenRefs} in ${c.forgotten} frames)`
        : 'a red corner: references forgotten with intoRaw (recorded in checked mode only)',
      count: c.forgotten,
    },
    {
      key: 'refs',
      swatch: (x, y) => [1, 2, 4, 8].map((r, i) => `<rect x="${x + i * 9}" y="${y - 11}" width="8" height="14" fill="${hsl(0, 0, refLightness(r))}"/>`).join(''),
      label: 'shade: 1, 2, 4, 8+ references',
      full: 'the darker a shared frame, the more references it has; small maps also print counts of 2 or more',
      labelX: 42,
      count: '',
    },
    { key: 'untyped', swatch: box('#ffffff', ` stroke="${MUTED_INK}" stroke-dasharray="2 2"`), label: 'of untyped types (bytes)', count: c.untyped, full: 'held frames of untyped metadata types (byte access)' },
  ];
  const held = map.types.filter((t) => t.frames > 0).sort((a, b) => b.frames - a.frames || a.id - b.id);
  const typeItems: LegendItem[] = held.map((t) => {
    const tag = t.untyped ? ' (untyped)' : '';
    const max = 34 - tag.length;
    const chars = Array.from(t.name);
    const cut = chars.length > max ? chars.slice(0, max - 1).join('') + '\u2026' : t.name;
    const detail = t.unique > 0 ? `${t.name}${tag}: ${t.shared} shared, ${t.unique} unique${t.inList > 0 ? `, ${t.inList} in lists` : ''}` : `${t.name}${tag}`;
    return { key: 'type', name: t.name, swatch: box(typeSwatch(t.name)), label: cut + tag, count: t.frames, full: detail };
  });
  const idle = map.types.length - held.length;
  const heading = `Metadata types (held frames)${idle > 0 ? ` \u2014 ${idle} more registered type${idle === 1 ? '' : 's'} hold no frame` : ''}`;
  const sections = [
    { heading: 'Frame states', items: states },
    { heading: 'Marks', items: marks },
  ];
  if (typeItems.length > 0) sections.push({ heading, items: typeItems });
  return sections;
}

function legendItem(item: LegendItem, x: number, y: number): string {
  const attrs = `class="legend-item" data-key="${item.key}"` + (typeof item.count === 'number' ? ` data-count="${item.count}"` : '') + (item.name !== undefined ? ` data-name="${escapeXml(item.name)}"` : '');
  const tip = item.full !== undefined ? `<title>${escapeXml(item.full)}</title>` : '';
  const count = typeof item.count === 'number' ? String(item.count) : '';
  return (
    `<g ${attrs}>${tip}${item.swatch(x, y)}` +
    `<text x="${x + (item.labelX ?? 20)}" y="${y}" font-size="11" fill="${INK}">${escapeXml(item.label)}</text>` +
    (count !== '' ? `<text x="${x + LEGEND_ITEM_WIDTH - 14}" y="${y}" font-size="11" font-weight="bold" text-anchor="end" fill="${INK}">${count}</text>` : '') +
    '</g>'
  );
}
