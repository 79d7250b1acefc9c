/**
 * The colours of a frame map: one per state that has no type (free, cached, raw, busy), one hue
 * per metadata type, derived from its name alone (so a type keeps its colour from map to map and
 * in every worker), and a shade per reference count (darker = more references). Colours are
 * `#rrggbb` strings, which every SVG viewer reads.
 */
import type { FrameState } from './format.js';

/** Fill colours of the states drawn without a type colour. */
export const STATE_FILL: Readonly<Record<Exclude<FrameState, 'shared' | 'unique'>, string>> = {
  /** Free in the buddy allocator: almost white, so free memory reads as empty space. */
  free: '#eef0f3',
  /** Free in a worker's cache: a pale blue, still empty-looking. */
  cached: '#cadcf2',
  /** UNUSED but owned raw: a plain mid grey (taken, but not by a handle). */
  raw: '#8d949e',
  /** Busy: near black, hatched with yellow (see `BUSY_HATCH`). */
  busy: '#26282c',
};
/** The hatch drawn over busy frames. */
export const BUSY_HATCH = '#f2c230';
/** The border of a unique frame. */
export const UNIQUE_BORDER = '#111827';
/** The bead marking a frame in a linked list (white, outlined with `UNIQUE_BORDER`). */
export const LIST_BEAD = '#ffffff';
/** The corner mark of a frame with forgotten references. */
export const FORGOTTEN_MARK = '#e0102f';
/** The largest free run in the fragmentation bars. */
export const LARGEST_RUN = '#2f9e44';
/** Free runs other than the largest, in the fragmentation bars. */
export const OTHER_RUN = '#a9cfb3';
/** Memory that is not free, in the address-order fragmentation bar. */
export const NOT_FREE = '#5b626c';
/** Text and lines. */
export const INK = '#1f2328';
export const MUTED_INK = '#59636e';

/** FNV-1a hash of a string's UTF-16 code units. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The hue and saturation (55..79 %) of a type, from its name. Hues within 25° of pure red are
 * left to the forgotten-reference mark: a type's hue is in 25..335.
 */
export function typeTone(name: string): { hue: number; saturation: number } {
  const h = hash(name);
  // Golden-angle steps spread hashes that differ in their low bits around the wheel.
  return { hue: 25 + Math.round(((h % 310) * 137.508) % 310), saturation: 55 + ((h >>> 16) % 25) };
}

/** Lightness (%) for a count of references: 66 for one, 10 points darker per doubling, down to 36 at 8. */
export function refLightness(refs: number): number {
  return Math.max(36, Math.min(66, 66 - 10 * Math.log2(Math.max(1, refs))));
}

/** Lightness (%) of a unique frame (one reference; the border tells it from a shared one). */
export const UNIQUE_LIGHTNESS = 62;

/** The fill of a held frame of type `name`: shared with `refs` references, or unique. */
export function typeFill(name: string, refs: number, unique: boolean): string {
  const { hue, saturation } = typeTone(name);
  return hsl(hue, saturation, unique ? UNIQUE_LIGHTNESS : refLightness(refs));
}

/** The colour a type is listed with in a legend (one reference). */
export function typeSwatch(name: string): string {
  return typeFill(name, 1, false);
}

/** Black or white, whichever reads better on `fill` (`#rrggbb`). */
export function textOn(fill: string): string {
  const v = Number.parseInt(fill.slice(1), 16);
  const lin = (c: number): number => {
    const x = c / 255;
    return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  };
  const y = 0.2126 * lin((v >> 16) & 255) + 0.7152 * lin((v >> 8) & 255) + 0.0722 * lin(v & 255);
  return y > 0.3 ? '#000000' : '#ffffff';
}

/** `#rrggbb` of an HSL colour (h in degrees, s and l in %). */
export function hsl(h: number, s: number, l: number): string {
  const sat = s / 100;
  const light = l / 100;
  const a = sat * Math.min(light, 1 - light);
  const channel = (n: number): string => {
    const k = (n + h / 30) % 12;
    const c = light - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(c * 255)
      .toString(16)
      .padStart(2, '0');
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}
