// A worker of test/heap/workers.test.ts. Modes:
// - 'churn': `ops` random heap operations (alloc of random sizes and alignments into one of
//   `SLOTS` table entries, or free of an entry), each block filled with its entry's tag and
//   checked before its free; the table (`table`, addr + 1 per entry, 0 when empty) lives in
//   shared memory so that the parent can free what a killed worker held. The order (the entry
//   cleared before the free, set after the alloc) leaves at most one block unknown at a death.
//   `counter[slot]` counts the operations. At the end it frees its blocks, closes (its caches go
//   back), and posts 'done'.
// - 'free': frees the blocks it is given after checking their tags, closes, posts 'done'.
// - 'alloc': allocates `n` blocks of 48 bytes, tags them, posts their addresses, and stays
//   attached (its caches full) until told to close.
import { parentPort as port, workerData } from 'node:worker_threads';
import { FrameSystem } from '../../dist/index.js';
import { xorshift } from '../workers/xorshift.js';

if (port === null) throw new Error('heap.worker.js runs as a worker thread');
/** @type {{ handle: import('../../dist/index.js').FrameSystemHandle, mode: string, slots: number, table: SharedArrayBuffer, counter: SharedArrayBuffer, slot: number, seed: number, ops: number, pauseAt: number, pause?: SharedArrayBuffer, noLarge?: boolean, blocks: [number, number, number][], n: number }} */
const data = workerData;
const sys = FrameSystem.attach(data.handle);
port.postMessage({ workerId: sys.workerId });

/**
 * Fills the first and last byte of the block at `addr` of `size` bytes with `tag`.
 * @param {number} addr
 * @param {number} size
 * @param {number} tag
 */
function tagBlock(addr, size, tag) {
  const b = sys.bytes(addr, size);
  b[0] = tag;
  b[size - 1] = tag;
}

/**
 * Throws unless the block still holds its tag.
 * @param {number} addr
 * @param {number} size
 * @param {number} tag
 */
function checkTag(addr, size, tag) {
  const b = sys.bytes(addr, size);
  if (b[0] !== tag || b[size - 1] !== tag) throw new Error(`block ${addr} lost its tag ${tag}: ${b[0]}, ${b[size - 1]} (two owners?)`);
}

if (data.mode === 'churn') {
  const SLOTS = data.slots;
  const table = new Uint32Array(data.table, data.slot * SLOTS * 4, SLOTS);
  const sizes = new Uint32Array(SLOTS);
  const counter = new Int32Array(data.counter);
  const pause = data.pause === undefined ? undefined : new Int32Array(data.pause);
  const next = xorshift(data.seed);
  /** @param {number} i */
  const tagOf = (i) => ((data.slot * SLOTS + i) % 255) + 1;
  for (let k = 0; k < data.ops; k++) {
    const r = next();
    const i = r % SLOTS;
    if (table[i] !== 0) {
      const addr = table[i] - 1;
      checkTag(addr, sizes[i], tagOf(i));
      table[i] = 0;
      try {
        sys.heap.free(addr);
      } catch (e) {
        throw new Error(`op ${k}: free of a block of ${sizes[i]} bytes: ${/** @type {Error} */ (e).message}`);
      }
    } else {
      const pick = (r >>> 8) % 16;
      const size = pick < 12 ? 1 + ((r >>> 12) % 128) : pick < 15 || data.noLarge ? 1 + ((r >>> 12) % 2048) : 2049 + ((r >>> 12) % 6000);
      const align = pick === 3 ? 64 : 8;
      const addr = sys.heap.alloc(size, align);
      tagBlock(addr, size, tagOf(i));
      sizes[i] = size;
      table[i] = addr + 1;
    }
    Atomics.add(counter, data.slot, 1);
    if (pause !== undefined && Atomics.load(pause, 0) === 1) {
      // Asked to stand still between two operations (while the parent reclaims a dead worker).
      Atomics.store(pause, 1, 1);
      while (Atomics.load(pause, 0) === 1) Atomics.wait(pause, 0, 1, 100);
      Atomics.store(pause, 1, 0);
    }
    if (k + 1 === data.pauseAt) {
      // Between two operations: its cached slots in its caches, its blocks in its table. The
      // parent terminates it here (see workers.test.ts: a kill at any instruction is not run).
      port.postMessage('paused');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    }
  }
  for (let i = 0; i < SLOTS; i++) {
    if (table[i] === 0) continue;
    const addr = table[i] - 1;
    table[i] = 0;
    sys.heap.free(addr);
  }
  sys.close();
  port.postMessage('done');
} else if (data.mode === 'free') {
  for (const [addr, size, tag] of data.blocks) {
    checkTag(addr, size, tag);
    sys.heap.free(addr);
  }
  sys.close();
  port.postMessage('done');
} else if (data.mode === 'alloc') {
  /** @type {[number, number, number][]} */
  const blocks = [];
  for (let i = 0; i < data.n; i++) {
    const addr = sys.heap.alloc(48);
    tagBlock(addr, 48, (i % 255) + 1);
    blocks.push([addr, 48, (i % 255) + 1]);
  }
  // Some freed here too: they stay in this worker's cache.
  for (let i = 0; i < data.n / 2; i++) sys.heap.free(sys.heap.alloc(48));
  port.postMessage({ blocks });
  const parent = port;
  parent.once('message', () => {
    sys.close();
    parent.postMessage('done');
  });
}
