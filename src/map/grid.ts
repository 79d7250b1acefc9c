/**
 * The grid of a frame-map picture: how many frames one cell stands for (1, or a power of two
 * chosen so the picture keeps at most `maxCells` cells), how many columns and rows, and what each
 * cell holds (`cellContents`): its single frame, or for an aggregated cell the number of frames
 * of each kind, which the picture draws as stacked strips.
 */
import { stateOfCode, type FrameMap, type FrameState } from './format.js';

/** The most cells a picture has unless told otherwise. */
export const DEFAULT_MAX_CELLS = 4096;
/** Columns of the grid unless told otherwise. */
export const DEFAULT_COLUMNS = 64;

export interface GridPlan {
  /** Frames per cell: 1, or a power of two. */
  readonly framesPerCell: number;
  readonly cells: number;
  readonly columns: number;
  readonly rows: number;
}

/** The grid for `nframes` frames in (at most) `columns` columns and `maxCells` cells. */
export function planGrid(nframes: number, columns = DEFAULT_COLUMNS, maxCells = DEFAULT_MAX_CELLS): GridPlan {
  let framesPerCell = 1;
  while (Math.ceil(nframes / framesPerCell) > maxCells) framesPerCell *= 2;
  const cells = Math.ceil(nframes / framesPerCell);
  const cols = Math.max(1, Math.min(Math.floor(columns), cells));
  return { framesPerCell, cells, columns: cols, rows: Math.ceil(cells / cols) };
}

/**
 * One kind of frame in a cell. `type` is the metadata type id for `shared` and `unique` frames
 * (0 for the others).
 */
export interface CellPart {
  readonly state: FrameState;
  readonly type: number;
  readonly frames: number;
}

/** What one cell holds. */
export interface CellContents {
  /** First frame of the cell and number of frames in it. */
  readonly first: number;
  readonly count: number;
  /** Frames by kind, in drawing order: held frames by type id (shared before unique), then
   *  busy, raw, cached, free. */
  readonly parts: CellPart[];
  /** Frames in a linked list, frames with forgotten references, and those references. */
  readonly inList: number;
  readonly forgotten: number;
  readonly forgottenRefs: number;
  /** The largest reference count in the cell. */
  readonly maxRefs: number;
}

const TAIL_ORDER: readonly FrameState[] = ['busy', 'raw', 'cached', 'free'];

/** The contents of cell `cell` of `plan` in `map`. */
export function cellContents(map: FrameMap, plan: GridPlan, cell: number): CellContents {
  const first = cell * plan.framesPerCell;
  const end = Math.min(map.nframes, first + plan.framesPerCell);
  const held = new Map<number, { shared: number; unique: number }>();
  const tail: Record<string, number> = { busy: 0, raw: 0, cached: 0, free: 0 };
  let inList = 0;
  let forgotten = 0;
  let forgottenRefs = 0;
  let maxRefs = 0;
  for (let k = first; k < end; k++) {
    const state = stateOfCode(map.states[k]) ?? 'busy';
    if (state === 'shared' || state === 'unique') {
      const type = map.typeIds[k];
      let h = held.get(type);
      if (h === undefined) held.set(type, (h = { shared: 0, unique: 0 }));
      h[state]++;
      if (map.lists[k] > 0) inList++;
      if (map.refCounts[k] > maxRefs) maxRefs = map.refCounts[k];
    } else {
      tail[state]++;
    }
    if (map.forgotten[k] > 0) {
      forgotten++;
      forgottenRefs += map.forgotten[k];
    }
  }
  const parts: CellPart[] = [];
  for (const type of [...held.keys()].sort((a, b) => a - b)) {
    const h = held.get(type)!;
    if (h.shared > 0) parts.push({ state: 'shared', type, frames: h.shared });
    if (h.unique > 0) parts.push({ state: 'unique', type, frames: h.unique });
  }
  for (const state of TAIL_ORDER) if (tail[state] > 0) parts.push({ state, type: 0, frames: tail[state] });
  return { first, count: end - first, parts, inList, forgotten, forgottenRefs, maxRefs };
}
