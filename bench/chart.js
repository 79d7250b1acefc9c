// Renders benchmark rows as an SVG bar chart: each row's median next to its baseline's, on a
// logarithmic time axis, with the ratio written beside it. No dependencies.

/**
 * @param {{ name: string, medianNs: number, baseline: string | null, ratio: number | null }[]} rows
 * @param {string} title
 */
export function chart(rows, title) {
  const compared = rows.filter((r) => r.baseline !== null);
  const byName = new Map(rows.map((r) => [r.name, r]));
  const left = 420;
  const width = 1000;
  const barArea = width - left - 110;
  const rowHeight = 34;
  const top = 50;
  const height = top + compared.length * rowHeight + 40;
  const all = compared.flatMap((r) => [r.medianNs, byName.get(/** @type {string} */ (r.baseline))?.medianNs ?? r.medianNs]);
  const lo = Math.log10(Math.max(1, Math.min(...all) / 2));
  const hi = Math.log10(Math.max(...all) * 2);
  /** @param {number} ns */
  const x = (ns) => left + ((Math.log10(Math.max(ns, 1)) - lo) / (hi - lo)) * barArea;
  /** @param {string} s */
  const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  /** @param {number} ns */
  const fmt = (ns) => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(1)} ns`);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="40" fill="#555">median time per operation (log scale): pageframe (blue) against its baseline (grey); ratio = pageframe / baseline, lower is better</text>`,
  ];
  for (const decade of [1, 10, 100, 1e3, 1e4, 1e5, 1e6]) {
    if (Math.log10(decade) < lo || Math.log10(decade) > hi) continue;
    const gx = x(decade);
    parts.push(`<line x1="${gx}" y1="${top - 4}" x2="${gx}" y2="${height - 30}" stroke="#eee"/>`);
    parts.push(`<text x="${gx}" y="${height - 16}" text-anchor="middle" fill="#777">${fmt(decade)}</text>`);
  }
  compared.forEach((r, i) => {
    const y = top + i * rowHeight;
    const base = byName.get(/** @type {string} */ (r.baseline));
    parts.push(`<text x="${left - 8}" y="${y + 12}" text-anchor="end">${esc(r.name)}</text>`);
    parts.push(`<text x="${left - 8}" y="${y + 25}" text-anchor="end" fill="#777">vs ${esc(r.baseline ?? '')}</text>`);
    parts.push(`<rect x="${left}" y="${y + 2}" width="${Math.max(1, x(r.medianNs) - left)}" height="12" fill="#3b6fd6"/>`);
    if (base) parts.push(`<rect x="${left}" y="${y + 16}" width="${Math.max(1, x(base.medianNs) - left)}" height="12" fill="#aaa"/>`);
    const good = r.ratio !== null && r.ratio <= 1;
    parts.push(
      `<text x="${Math.max(x(r.medianNs), base ? x(base.medianNs) : 0) + 6}" y="${y + 19}" fill="${good ? '#1a7f37' : '#b42318'}">${fmt(r.medianNs)} · ${r.ratio}×</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
