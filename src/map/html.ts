/**
 * The HTML page of a frame map: a self-contained document (no script, no external resource)
 * with the SVG picture inline (tooltips on every cell), then tables of the metadata types, the
 * linked lists, the workers' caches and free memory, and `stats()` at capture. Every string from
 * the map goes through `escapeXml`; the page is also well-formed XML.
 */
import { escapeXml } from './escape.js';
import type { FrameMap } from './format.js';
import { typeSwatch } from './palette.js';
import { FRAGMENTATION_MEANING, captureLine, formatBytes, fragmentationLine, hexPaddr, percent, totalsLine } from './text.js';

const STYLE = `
body { font-family: system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1f2328; margin: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
p.total { font-size: 16px; margin: 0 0 4px; }
p.sub { color: #59636e; margin: 0 0 8px; font-size: 13px; }
figure { margin: 0; overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #d8dee4; padding: 4px 10px; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
span.sw { display: inline-block; width: 12px; height: 12px; vertical-align: -1px; margin-right: 6px; border-radius: 2px; }
pre { background: #f6f8fa; padding: 10px; font-size: 12px; overflow-x: auto; }
.muted { color: #59636e; }
`;

/** A complete HTML document for `map`, around its SVG picture (`svg`, without XML declaration). */
export function frameMapHtml(map: FrameMap, title: string, svg: string): string {
  const e = escapeXml;
  const rows = (cells: string[][]): string => cells.map((r) => `<tr>${r.join('')}</tr>`).join('\n');
  const td = (s: string | number, numeric = false): string => `<td${numeric ? ' class="n"' : ''}>${e(String(s))}</td>`;

  const types = map.types.length === 0
    ? '<p class="muted">No metadata type is registered.</p>'
    : '<table><thead><tr><th>id</th><th>name</th><th>kind</th><th class="n">frames</th><th class="n">shared</th>' +
      '<th class="n">unique</th><th class="n">in a list</th></tr></thead><tbody>\n' +
      rows(
        [...map.types]
          .sort((a, b) => b.frames - a.frames || a.id - b.id)
          .map((t) => [
            td(t.id, true),
            `<td><span class="sw" style="background:${typeSwatch(t.name)}"></span>${e(t.name)}</td>`,
            td(t.untyped ? 'untyped (bytes)' : 'typed'),
            td(t.frames, true),
            td(t.shared, true),
            td(t.unique, true),
            td(t.inList, true),
          ]),
      ) +
      '\n</tbody></table>';

  const lists = map.linkedLists.length === 0
    ? '<p class="muted">No linked list.</p>'
    : '<table><thead><tr><th class="n">id</th><th>type</th><th class="n">frames</th></tr></thead><tbody>\n' +
      rows(map.linkedLists.map((l) => [td(l.id, true), td(l.type ?? '\u2014'), td(l.size, true)])) +
      '\n</tbody></table>';

  const workers = map.workers.length === 0
    ? '<p class="muted">No per-worker caches (custom allocator).</p>'
    : '<table><thead><tr><th class="n">worker</th><th>state</th><th class="n">cached free frames</th><th>cached runs (first paddr \u00d7 frames)</th></tr></thead><tbody>\n' +
      rows(
        map.workers.map((w) => [
          td(w.id, true),
          td(w.attached ? 'attached' : 'not attached'),
          td(w.cachedFrames, true),
          td(w.cachedRuns.slice(0, 12).map(([s, n]) => `${hexPaddr(map, s * map.pageSize)}\u00d7${n}`).join(' ') + (w.cachedRuns.length > 12 ? ` \u2026 (${w.cachedRuns.length} runs)` : '')),
        ]),
      ) +
      '\n</tbody></table>';

  const f = map.fragmentation;
  const free =
    '<table><tbody>\n' +
    rows([
      [td('free frames'), td(`${f.freeFrames} (${formatBytes(f.freeFrames * map.pageSize)}, ${percent(f.freeFrames, map.nframes)} of the region)`, true)],
      [td('of them in workers\u2019 caches'), td(map.counts.cached, true)],
      [td('free runs'), td(f.runs, true)],
      [td('largest free run'), td(`${f.largestRun} frames (${formatBytes(f.largestRun * map.pageSize)})`, true)],
      [td('fragmentation'), td(f.ratio.toFixed(3), true)],
    ]) +
    '\n</tbody></table>\n' +
    `<p class="muted">${e(FRAGMENTATION_MEANING)}.</p>`;

  return (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8" />\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1" />\n' +
    `<title>${e(`${title}: ${totalsLine(map)}`)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n` +
    `<h1>${e(title)}</h1>\n<p class="total">${e(totalsLine(map))}</p>\n<p class="sub">${e(captureLine(map))}. Hover a cell for its frame.</p>\n` +
    `<figure>\n${svg}</figure>\n` +
    `<h2>Metadata types</h2>\n${types}\n` +
    `<h2>Linked lists</h2>\n${lists}\n` +
    `<h2>Workers</h2>\n${workers}\n` +
    `<h2>Free memory</h2>\n<p>${e(fragmentationLine(map))}</p>\n${free}\n` +
    `<h2>stats() at capture</h2>\n<pre>${e(JSON.stringify(map.stats, null, 2))}</pre>\n` +
    '</body>\n</html>\n'
  );
}
