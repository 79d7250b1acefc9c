/**
 * Free runs and fragmentation: where the free frames of a map lie, as maximal runs of
 * consecutive frames, and the numbers that say how scattered they are
 * (`FrameMapFragmentation`). Pure functions of a map's `states`.
 */
import { STATE_CODE, type FrameMapFragmentation, type FrameRun } from './format.js';

const FREE = STATE_CODE.free;
const CACHED = STATE_CODE.cached;

/** The maximal runs of frames free in the allocator (buddy or cached), in address order. */
export function freeRunsOf(states: string): FrameRun[] {
  const runs: FrameRun[] = [];
  let start = -1;
  for (let k = 0; k <= states.length; k++) {
    const c = k < states.length ? states[k] : '';
    const free = c === FREE || c === CACHED;
    if (free && start < 0) start = k;
    else if (!free && start >= 0) {
      runs.push([start, k - start]);
      start = -1;
    }
  }
  return runs;
}

/** The fragmentation numbers of free runs (see `FrameMapFragmentation`). */
export function fragmentationOf(runs: readonly FrameRun[]): FrameMapFragmentation {
  let freeFrames = 0;
  let largestRun = 0;
  for (const [, n] of runs) {
    freeFrames += n;
    if (n > largestRun) largestRun = n;
  }
  return { freeFrames, runs: runs.length, largestRun, ratio: freeFrames === 0 ? 0 : 1 - largestRun / freeFrames };
}
