/**
 * renderFrameMap: well-formed SVG and HTML, one cell per frame (or an aggregate of a power of
 * two frames in a large region, said in the picture), legend counts equal to stats(), the free
 * runs laid out, user strings escaped, tooltips, a deterministic palette, bad options refused.
 */
import { describe, expect, it } from 'vitest';
import { FrameAllocOptions, LinkedList, defineMeta } from '../../src/index.js';
import { captureFrameMap } from '../../src/map/capture.js';
import { escapeXml } from '../../src/map/escape.js';
import { FrameMapFormatError, type FrameMap } from '../../src/map/format.js';
import { fragmentationOf, freeRunsOf } from '../../src/map/free-runs.js';
import { planGrid } from '../../src/map/grid.js';
import { LARGEST_RUN, STATE_FILL, typeFill, typeSwatch } from '../../src/map/palette.js';
import { renderFrameMap } from '../../src/map/render.js';
import { MockMeta, MockUMeta, makeSystem } from '../helpers.js';
import { allElements, byClass, linesOf, parseXml, textOf, type XmlElement } from './xml.js';

/** A region with frames in most states (checked mode, so forgotten references show). */
function busyRegion() {
  const sys = makeSystem({ frames: 128, checked: true, leakStacks: false });
  const options = new FrameAllocOptions(sys);
  const held: { drop(): void }[] = [];
  const a = sys.allocFrame(MockMeta, { value: 1 });
  held.push(a, a.clone(), a.clone());
  for (let i = 0; i < 5; i++) held.push(sys.allocFrame(MockUMeta, { value: i }));
  held.push(options.allocUnique(MockMeta, { value: 2 }));
  const list = LinkedList.create(sys, MockMeta);
  for (let i = 0; i < 3; i++) list.pushBack(options.allocUnique(MockMeta, { value: 10 + i }));
  const forgotten = sys.allocFrame(MockMeta, { value: 3 }).intoRaw();
  const raw = sys.allocator.alloc(4, 1)!;
  const dropped = sys.allocFrame();
  dropped.drop();
  return { sys, held, list, forgotten, raw };
}

function legend(svg: XmlElement): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of byClass(svg, 'legend-item')) {
    if (item.attrs['data-key'] !== 'type' && item.attrs['data-count'] !== undefined) out.set(item.attrs['data-key'], Number(item.attrs['data-count']));
  }
  return out;
}

function legendTypes(svg: XmlElement): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of byClass(svg, 'legend-item')) if (item.attrs['data-key'] === 'type') out[item.attrs['data-name']] = Number(item.attrs['data-count']);
  return out;
}

/** A synthetic map of `nframes` frames (no region behind it): the renderer needs only the map. */
function syntheticMap(nframes: number, stateAt: (k: number) => string): FrameMap {
  let states = '';
  const refCounts: number[] = [];
  const typeIds: number[] = [];
  for (let k = 0; k < nframes; k++) {
    const s = stateAt(k);
    states += s;
    refCounts.push(s === 'S' ? 1 + (k % 3) : s === 'U' ? 1 : 0);
    typeIds.push(s === 'S' || s === 'U' ? 1 : 0);
  }
  const zeros = new Array<number>(nframes).fill(0);
  const freeRuns = freeRunsOf(states);
  const count = (l: string): number => states.split(l).length - 1;
  const shared = count('S');
  const unique = count('U');
  const free = count('F') + count('C');
  return {
    format: 'pageframe-map/1',
    capturedAt: new Date(0).toISOString(),
    capturedBy: 1,
    nframes,
    pageSize: 4096,
    checked: false,
    allocator: 'default',
    states,
    refCounts,
    typeIds,
    lists: zeros,
    forgotten: zeros,
    types: [{ id: 1, name: 'synthetic.t', untyped: false, frames: shared + unique, shared, unique, inList: 0 }],
    linkedLists: [],
    workers: [],
    freeRuns,
    fragmentation: fragmentationOf(freeRuns),
    counts: { free, cached: count('C'), raw: count('R'), busy: count('B'), shared, unique, inList: 0, untyped: 0, forgotten: 0, forgottenRefs: 0 },
    stats: { total: nframes, free, used: nframes - free, shared, unique, busy: count('B'), raw: count('R'), byType: { 'synthetic.t': shared + unique } },
  };
}

describe('renderFrameMap as SVG', () => {
  it('is well-formed XML, one cell per frame, with legend counts equal to stats()', () => {
    const { sys } = busyRegion();
    const map = captureFrameMap(sys);
    const text = renderFrameMap(map, { format: 'svg' });
    expect(text.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg ')).toBe(true);
    const svg = parseXml(text);
    expect(svg.name).toBe('svg');
    expect(svg.attrs.xmlns).toBe('http://www.w3.org/2000/svg');
    const grid = byClass(svg, 'grid');
    expect(grid).toHaveLength(1);
    expect(grid[0].attrs['data-frames-per-cell']).toBe('1');
    expect(byClass(svg, 'cell')).toHaveLength(128);

    const s = sys.stats();
    const counts = legend(svg);
    expect(Object.fromEntries(['shared', 'unique', 'busy', 'raw', 'free'].map((k) => [k, counts.get(k)]))).toEqual({
      shared: s.shared,
      unique: s.unique,
      busy: s.busy,
      raw: s.raw,
      free: s.free,
    });
    expect(counts.get('cached')).toBe(sys._cache!.cachedFrames(1));
    expect(counts.get('inList')).toBe(3);
    expect(counts.get('forgotten')).toBe(1);
    expect(counts.get('untyped')).toBe(5);
    expect(legendTypes(svg)).toEqual(s.byType);
    // The title carries the totals.
    expect(textOf(svg)).toContain(`128 frames (512 KiB): ${s.used} used, ${s.free} free`);
  });

  it('draws each state in its colour and marks unique frames, list members, forgotten references and counts', () => {
    const { sys, forgotten } = busyRegion();
    const map = captureFrameMap(sys);
    const svg = parseXml(renderFrameMap(map, { format: 'svg' }));
    const cells = byClass(svg, 'cell');
    const fills = (k: number): string[] => allElements(cells[k]).map((e) => e.attrs.fill).filter((f) => f !== undefined);
    const k = (letter: string): number => map.states.indexOf(letter);
    expect(fills(k('F'))).toEqual([STATE_FILL.free]);
    expect(fills(k('C'))).toEqual([STATE_FILL.cached]);
    expect(fills(k('R'))).toEqual([STATE_FILL.raw]);
    // The thrice-shared frame: its type's colour at the shade of 3 references, and the number 3.
    const three = map.refCounts.indexOf(3);
    expect(fills(three)[0]).toBe(typeFill('test.MockFrameMeta', 3, false));
    expect(textOf(cells[three])).toBe('3');
    // Unique frames have a border; list members a bead too.
    const uniques = [...map.states].flatMap((s, i) => (s === 'U' ? [i] : []));
    expect(uniques).toHaveLength(4);
    for (const u of uniques) expect(allElements(cells[u]).some((e) => e.name === 'rect' && e.attrs.stroke !== undefined)).toBe(true);
    const beads = uniques.filter((u) => allElements(cells[u]).some((e) => e.name === 'circle'));
    expect(beads.map((u) => map.lists[u] > 0)).toEqual([true, true, true]);
    // The forgotten reference: a corner mark on that frame only.
    const marked = cells.flatMap((c, i) => (allElements(c).some((e) => e.name === 'path') ? [i] : []));
    expect(marked).toEqual([forgotten / 4096]);
  });

  it('lays out the free runs: address order and by size, the largest in green', () => {
    const sys = makeSystem({ frames: 64, caches: false });
    const frames = Array.from({ length: 64 }, () => sys.allocFrame());
    const byIndex = new Map(frames.map((f) => [f.paddr / 4096, f]));
    for (const k of [0, 1, 2, 10, 20, 21, 22, 23, 24, 25, 26, 27, 60]) byIndex.get(k)!.drop();
    const map = captureFrameMap(sys);
    expect(map.freeRuns).toEqual([[0, 3], [10, 1], [20, 8], [60, 1]]);
    const svg = parseXml(renderFrameMap(map, { format: 'svg' }));
    const sized = allElements(byClass(svg, 'free-by-size')[0]).filter((e) => e.name === 'rect');
    expect(sized).toHaveLength(4);
    expect(sized[0].attrs.fill).toBe(LARGEST_RUN);
    const widths = sized.map((r) => Number(r.attrs.width));
    expect(widths[0] / widths[1]).toBeCloseTo(8 / 3, 1);
    const inOrder = allElements(byClass(svg, 'free-address')[0]).filter((e) => e.name === 'rect');
    expect(inOrder).toHaveLength(1 + 4); // the background, then each run
    const green = inOrder.find((r) => r.attrs.fill === LARGEST_RUN)!;
    const barW = Number(inOrder[0].attrs.width);
    expect(Number(green.attrs.x) - Number(inOrder[0].attrs.x)).toBeCloseTo((20 / 64) * barW, 1);
    expect(textOf(svg)).toContain('13 free frames in 4 runs; largest run 8 frames (61.5% of free); fragmentation 0.38');
  });

  it('escapes type names and titles (user strings)', () => {
    const sys = makeSystem({ frames: 16 });
    const evil = `<script>alert("x" & 'y')</script>\u0001\ud800 ]]> ok`;
    const T = defineMeta(evil, { v: 'u32' });
    const f = sys.allocFrame(T, { v: 1 });
    const map = captureFrameMap(sys);
    for (const format of ['svg', 'html'] as const) {
      const text = renderFrameMap(map, { format, title: `<b>&title</b>` });
      expect(text).not.toContain('<script>');
      expect(text).not.toContain('<b>');
      expect(text).toContain('&lt;script&gt;');
      const doc = parseXml(text);
      const names = allElements(doc).map((e) => e.attrs['data-name']).filter((n) => n !== undefined);
      expect(names).toEqual([`<script>alert("x" & 'y')</script>\ufffd\ufffd ]]> ok`]);
      expect(textOf(doc)).toContain('<b>&title</b>');
    }
    f.drop();
  });

  it('tooltips: in HTML a <title> per cell (paddr, state, type, count); none in SVG by default', () => {
    const sys = makeSystem({ frames: 32 });
    const a = sys.allocFrame(MockMeta, { value: 1 });
    const b = a.clone();
    const map = captureFrameMap(sys);
    const svg = parseXml(renderFrameMap(map, { format: 'svg' }));
    expect(byClass(svg, 'cell').every((c) => c.children.every((e) => e.name !== 'title'))).toBe(true);
    const withTips = parseXml(renderFrameMap(map, { format: 'svg', tooltips: true }));
    const tips = byClass(withTips, 'cell').map((c) => c.children.find((e) => e.name === 'title')?.text);
    expect(tips).toHaveLength(32);
    const k = a.paddr / 4096;
    expect(tips[k]).toBe(`0x${a.paddr.toString(16).padStart(5, '0')} (frame ${k}): shared \u00b7 test.MockFrameMeta \u00b7 2 references`);
    expect(tips.filter((t) => t?.endsWith(': cached free'))).toHaveLength(map.counts.cached);
    expect(tips.filter((t) => t?.endsWith(': free'))).toHaveLength(31 - map.counts.cached);
    a.drop();
    b.drop();
  });

  it('aggregates a large region into at most 4096 cells of a power of two frames, and says so', () => {
    const sys = makeSystem({ frames: 16384 });
    const seg = sys.allocSegment(1000, MockMeta);
    const map = captureFrameMap(sys);
    const svg = parseXml(renderFrameMap(map, { format: 'svg' }));
    const grid = byClass(svg, 'grid')[0];
    expect(grid.attrs['data-frames-per-cell']).toBe('4');
    expect(linesOf(svg)).toContain('Aggregated: 1 cell = 4 frames (16 KiB), 4096 cells');
    // 1000 frames in use fill 250 cells: the first 4 rows of 64 are drawn; the 60 rows after
    // them, every frame free, are one band that says so.
    expect(byClass(svg, 'cell')).toHaveLength(4 * 64);
    const [band] = byClass(svg, 'folded-rows');
    expect(band.attrs).toEqual(expect.objectContaining({ 'data-rows': '60', 'data-frames': String(60 * 64 * 4) }));
    expect(textOf(band)).toBe(`\u22ef 60 rows, all free: 15360 frames (60 MiB) from 0x0400000 to 0x4000000 \u22ef`);
    // Counts stay exact: they are the map's, not the cells'.
    expect(legend(svg).get('shared')).toBe(1000);
    seg.drop();

    // A million frames (a synthetic map: the renderer needs no region), mixed states per cell.
    const big = syntheticMap(1 << 20, (k) => (k % 1024 < 100 ? 'S' : k % 1024 < 110 ? 'R' : k % 7 === 0 ? 'C' : 'F'));
    const plan = planGrid(big.nframes);
    expect(plan).toEqual({ framesPerCell: 256, cells: 4096, columns: 64, rows: 64 });
    const text = renderFrameMap(big, { format: 'svg' });
    const doc = parseXml(text);
    expect(byClass(doc, 'cell')).toHaveLength(4096);
    expect(textOf(doc)).toContain('1 cell = 256 frames (1 MiB)');
    // A cell of the first 256 frames: 100 shared, 10 raw, the rest cached or free, as strips.
    const first = allElements(byClass(doc, 'cell')[0]).filter((e) => e.name === 'rect');
    expect(first.map((r) => r.attrs.fill)).toEqual([typeFill('synthetic.t', 1, false), STATE_FILL.raw, STATE_FILL.cached, STATE_FILL.free]);
    const width = first.reduce((w, r) => w + Number(r.attrs.width), 0);
    expect(Number(first[0].attrs.width) / width).toBeCloseTo(100 / 256, 2);
    // Many free runs: the bars stay small (a pixel-level address bar, a hatched tail by size).
    expect(big.freeRuns.length).toBeGreaterThan(1000);
    expect(allElements(byClass(doc, 'free-by-size')[0]).length).toBeLessThan(420);
    expect(textOf(doc)).toMatch(/Hatched at the right end: \d+ more runs/);
    expect(text.length).toBeLessThan(3_000_000);
  });

  it('folds three or more rows of free frames into one band, only in a grid of 8 rows or more', () => {
    // A gigabyte region with a few frames in use at both ends: 64 rows of 64 cells of 64 frames.
    const nframes = 1 << 18;
    const used = (k: number): boolean => k < 300 || (k >= 40 * 4096 && k < 40 * 4096 + 10) || k >= nframes - 5;
    const map = syntheticMap(nframes, (k) => (used(k) ? 'S' : 'F'));
    const svg = parseXml(renderFrameMap(map, { format: 'svg' }));
    const bands = byClass(svg, 'folded-rows').map((b) => [Number(b.attrs['data-rows']), Number(b.attrs['data-frames'])]);
    // Rows 0, 40 and 63 hold frames in use; rows 1-39 and 41-62 are folded.
    expect(bands).toEqual([
      [39, 39 * 4096],
      [22, 22 * 4096],
    ]);
    expect(byClass(svg, 'cell')).toHaveLength(3 * 64);
    expect(linesOf(svg)).toContain('folded into one band that says how many');
    // Every frame is in a drawn row or a band.
    expect(byClass(svg, 'cell').length * 64 + bands.reduce((n, [, f]) => n + f, 0)).toBe(nframes);
    // The row labels follow: the row after a band is labelled with its own address.
    const labels = allElements(svg)
      .filter((e) => e.name === 'text' && e.attrs['text-anchor'] === 'end' && e.attrs['font-size'] === '10')
      .map(textOf);
    expect(labels).toEqual(['0x00000000', '0x28000000', '0x3f000000']);
    // A short grid shows every row, free or not.
    const small = syntheticMap(64 * 6, (k) => (k < 3 ? 'S' : 'F'));
    const smallSvg = parseXml(renderFrameMap(small, { format: 'svg' }));
    expect(byClass(smallSvg, 'folded-rows')).toHaveLength(0);
    expect(byClass(smallSvg, 'cell')).toHaveLength(64 * 6);
  });

  it('wraps a long title (and the other header lines) to the width of the picture, never cutting a word off', () => {
    const sys = makeSystem({ frames: 64 });
    const title = 'pageframe demo at its busiest moment: 246 frames in use, 243 of them queued, after 2513 of 20000 were sent';
    const text = renderFrameMap(captureFrameMap(sys), { format: 'svg', title });
    const svg = parseXml(text);
    const width = Number(svg.attrs.width);
    const bold = allElements(svg).filter((e) => e.name === 'text' && e.attrs['font-size'] === '20');
    expect(bold.length).toBeGreaterThan(1);
    expect(bold.map(textOf).join(' ')).toBe(title);
    // Each line fits, at the widest a bold sans-serif character is (0.64 of the font size).
    for (const line of bold) expect(20 + textOf(line).length * 20 * 0.64).toBeLessThanOrEqual(width - 20);
    expect(text).toContain('were sent</text>');
  });

  it('columns and maxCells are options; bad options and a foreign map are refused', () => {
    const sys = makeSystem({ frames: 100 });
    const map = captureFrameMap(sys);
    const svg = parseXml(renderFrameMap(map, { format: 'svg', columns: 10, maxCells: 50 }));
    expect(byClass(svg, 'grid')[0].attrs['data-frames-per-cell']).toBe('2');
    expect(byClass(svg, 'cell')).toHaveLength(50);
    expect(planGrid(100, 10, 50)).toEqual({ framesPerCell: 2, cells: 50, columns: 10, rows: 5 });
    expect(planGrid(5)).toEqual({ framesPerCell: 1, cells: 5, columns: 5, rows: 1 });
    const badValue = expect.objectContaining({ name: 'FrameUseError', code: 'BadValue' });
    expect(() => renderFrameMap(map, { format: 'png' as 'svg' })).toThrow(badValue);
    expect(() => renderFrameMap(map, { format: 'svg', columns: 0 })).toThrow(badValue);
    expect(() => renderFrameMap(map, { format: 'svg', maxCells: 1.5 })).toThrow(badValue);
    expect(() => renderFrameMap(map, { format: { toString: 0 } as unknown as 'svg' })).toThrow(badValue);
    expect(() => renderFrameMap(map, { format: 'svg', title: 5 as unknown as string })).toThrow(badValue);
    expect(() => renderFrameMap({ ...map, format: 'other' } as unknown as FrameMap, { format: 'svg' })).toThrow(FrameMapFormatError);
  });

  it('the palette is deterministic by type name and keeps clear of the forgotten mark', () => {
    expect(typeSwatch('app.page')).toBe(typeSwatch('app.page'));
    expect(typeSwatch('app.page')).not.toBe(typeSwatch('app.inode'));
    // Darker with more references; unique has its own shade.
    const lightness = (hex: string): number => {
      const v = Number.parseInt(hex.slice(1), 16);
      return Math.max(v >> 16, (v >> 8) & 255, v & 255) + Math.min(v >> 16, (v >> 8) & 255, v & 255);
    };
    expect(lightness(typeFill('t', 1, false))).toBeGreaterThan(lightness(typeFill('t', 2, false)));
    expect(lightness(typeFill('t', 2, false))).toBeGreaterThan(lightness(typeFill('t', 8, false)));
    expect(typeFill('t', 8, false)).toBe(typeFill('t', 100, false));
    for (let i = 0; i < 200; i++) {
      const v = Number.parseInt(typeSwatch(`type.${i}`).slice(1), 16);
      const [r, g, b] = [v >> 16, (v >> 8) & 255, v & 255];
      expect(r > 1.6 * g && r > 1.6 * b, `type.${i} looks red`).toBe(false);
    }
  });
});

describe('renderFrameMap as HTML', () => {
  it('a well-formed page: the SVG inline, a table of types, a tooltip per cell, stats()', () => {
    const { sys } = busyRegion();
    const map = captureFrameMap(sys);
    const text = renderFrameMap(map, { format: 'html', title: 'my app' });
    expect(text.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    const html = parseXml(text);
    expect(html.name).toBe('html');
    const all = allElements(html);
    expect(all.find((e) => e.name === 'h1')?.text).toBe('my app');
    const svg = all.find((e) => e.name === 'svg')!;
    const cells = byClass(svg, 'cell');
    expect(cells).toHaveLength(128);
    expect(cells.every((c) => c.children[0].name === 'title')).toBe(true);
    const tables = all.filter((e) => e.name === 'table');
    const typeRows = allElements(tables[0]).filter((e) => e.name === 'tr').slice(1);
    const rows = typeRows.map((tr) => tr.children.map((td) => textOf(td)));
    // MockFrameMeta: the thrice-shared frame and the forgotten one; one unique frame, three in the list.
    expect(rows.find((r) => r[1] === 'test.MockFrameMeta')?.slice(2)).toEqual(['typed', '6', '2', '4', '3']);
    expect(rows.find((r) => r[1] === 'test.MockUFrameMeta')?.slice(2)).toEqual(['untyped (bytes)', '5', '5', '0', '0']);
    const pre = all.find((e) => e.name === 'pre')!;
    expect(JSON.parse(pre.text)).toEqual(sys.stats());
  });
});

describe('escapeXml', () => {
  it('escapes the five XML characters and replaces what XML forbids', () => {
    expect(escapeXml(`a&b<c>d"e'f`)).toBe('a&amp;b&lt;c&gt;d&quot;e&#39;f');
    expect(escapeXml('tab\there\nnew\rline')).toBe('tab\there\nnew\rline');
    expect(escapeXml('nul\u0000 bell\u0007 \ufffe')).toBe('nul\ufffd bell\ufffd \ufffd');
    expect(escapeXml('pair \ud83d\ude00 lone \ud83d x \ude00')).toBe('pair \ud83d\ude00 lone \ufffd x \ufffd');
    expect(escapeXml('')).toBe('');
  });
});
