/**
 * `renderFrameMap`: the picture of a `FrameMap`, as an SVG image or a self-contained HTML page
 * (the SVG with a tooltip on every cell, and tables). This file owns the options and their
 * defaults; `svg.ts` and `html.ts` draw.
 */
import { describe } from '../base/args.js';
import { FrameUseError } from '../base/errors.js';
import { parseFrameMap, type FrameMap } from './format.js';
import { DEFAULT_COLUMNS, DEFAULT_MAX_CELLS } from './grid.js';
import { frameMapHtml } from './html.js';
import { frameMapSvg } from './svg.js';

/**
 * How `renderFrameMap` draws a map. Only `format` is required.
 *
 * @example
 * ```ts
 * const options: RenderFrameMapOptions = { format: 'html', title: 'worker pool', columns: 32, tooltips: true };
 * const html = renderFrameMap(captureFrameMap(sys), options);
 * console.log(html.startsWith('<!DOCTYPE html>')); // true
 * ```
 */
export interface RenderFrameMapOptions {
  /** `svg`: an SVG image (a standalone file); `html`: an HTML page around it. */
  readonly format: 'svg' | 'html';
  /** The heading (default 'pageframe frame map'). */
  readonly title?: string;
  /** Cells per row (default 64). */
  readonly columns?: number;
  /**
   * The most cells drawn (default 4096): a larger region is drawn with several frames per cell
   * (a power of two), and the picture says so.
   */
  readonly maxCells?: number;
  /** A `<title>` tooltip on every cell (paddr, state, type, count). Default: true for HTML,
   *  false for SVG (it makes the file several times larger). */
  readonly tooltips?: boolean;
}

/**
 * Draws `map` (from `captureFrameMap`, or `JSON.parse` of a saved one) as SVG or HTML text.
 * Throws `FrameMapFormatError` for a map that is not `pageframe-map/1`,
 * `FrameUseError('BadValue')` for bad options.
 *
 * @example
 * ```ts
 * const svg = renderFrameMap(captureFrameMap(sys), { format: 'svg', title: 'after warm-up' });
 * const html = renderFrameMap(captureFrameMap(sys), { format: 'html' }); // tooltips and tables
 * console.log(svg.startsWith('<?xml'), html.includes('<svg')); // true true
 * ```
 */
export function renderFrameMap(map: FrameMap, options: RenderFrameMapOptions): string {
  const checked = parseFrameMap(map);
  const { format, title = 'pageframe frame map', columns = DEFAULT_COLUMNS, maxCells = DEFAULT_MAX_CELLS } = options ?? {};
  const bad = (what: string, value: unknown): FrameUseError => new FrameUseError('BadValue', `${what}, not ${describe(value)}`);
  if (format !== 'svg' && format !== 'html') throw bad("format must be 'svg' or 'html'", format);
  if (!Number.isInteger(columns) || columns < 1) throw bad('columns must be a positive integer', columns);
  if (!Number.isInteger(maxCells) || maxCells < 1) throw bad('maxCells must be a positive integer', maxCells);
  if (typeof title !== 'string') throw bad('title must be a string', title);
  const tooltips = options.tooltips ?? format === 'html';
  const svg = frameMapSvg(checked, { title: String(title), columns, maxCells, tooltips, xmlDeclaration: format === 'svg', header: format === 'svg' });
  return format === 'svg' ? svg : frameMapHtml(checked, String(title), svg);
}
