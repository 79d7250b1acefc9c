// The heap benchmark (issue #17): small blocks from pageframe's `sys.heap`, next to
// @thi.ng/malloc (one thread, not thread-safe: the speed to match) and
// @daneren2005/shared-memory-objects 0.0.4 (thread-safe: the peer to beat), all in this run.
// Each figure is a median over interleaved rounds. `bench/run.js` calls `heapBench` and puts its
// rows in results.json and the chart; alone, `node bench/heap.js [--quick]` prints them and writes
// nothing. See bench/README.md ("Heap") for what each row measures.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { MemPool } from '@thi.ng/malloc';
import { FrameSystem } from '../dist/index.js';
import { buildSharedMemoryObjects, shimWorkerGlobals } from './peers.js';
import { median } from './workers.js';

const WORKER = new URL('./heap-worker.js', import.meta.url);
const LIVE = 1000; // live blocks in the churn and mixed-size rows
const SIZE = 64;

/** The row names, so run.js and the README say the same. */
export const HEAP_ROWS = {
  thing: '@thi.ng/malloc malloc+free 64 B',
  smo: 'shared-memory-objects alloc+free 64 B',
  heap: 'sys.heap alloc+free 64 B',
  heapVsSmo: 'sys.heap alloc+free 64 B, vs shared-memory-objects',
  churnThing: `@thi.ng/malloc, ${LIVE} live 64 B blocks churned at random`,
  churnSmo: `shared-memory-objects, ${LIVE} live 64 B blocks churned at random`,
  churnHeap: `sys.heap, ${LIVE} live 64 B blocks churned at random`,
  churnHeapVsSmo: `sys.heap, ${LIVE} live 64 B blocks churned, vs shared-memory-objects`,
  mixedThing: `@thi.ng/malloc, mixed sizes 8 B-2 KiB, ${LIVE} live`,
  mixedSmo: `shared-memory-objects, mixed sizes 8 B-2 KiB, ${LIVE} live`,
  mixedHeap: `sys.heap, mixed sizes 8 B-2 KiB, ${LIVE} live`,
  mixedHeapVsSmo: `sys.heap, mixed sizes 8 B-2 KiB, ${LIVE} live, vs shared-memory-objects`,
  smo1: 'shared-memory-objects alloc+free 64 B, 1 worker',
  smo2: 'shared-memory-objects alloc+free 64 B, 2 workers at once (aggregate)',
  heap1: 'sys.heap alloc+free 64 B, 1 worker',
  heap2: 'sys.heap alloc+free 64 B, 2 workers at once (aggregate)',
  remoteSmo: 'shared-memory-objects, 64 B freed in another worker (per block)',
  remoteHeap: 'sys.heap, 64 B freed in another worker (per block)',
};

/**
 * A library under test in this thread: alloc(bytes) → an address, free(address).
 * @typedef {{ alloc(n: number): unknown, free(a: unknown): void }} Lib
 */

/** A seeded xorshift: the same random sequence for every library. @param {number} seed */
function random(seed) {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/**
 * The timed loops of one library, each a function of `n` operations.
 * @param {Lib} lib
 * @param {Int32Array} picks random indices below LIVE
 * @param {Int32Array} sizes random block sizes
 */
function loops(lib, picks, sizes) {
  const live = new Array(LIVE);
  const fill = (/** @type {(i: number) => number} */ size) => {
    for (let i = 0; i < LIVE; i++) live[i] = lib.alloc(size(i));
  };
  const drain = () => {
    for (let i = 0; i < LIVE; i++) lib.free(live[i]);
  };
  return {
    pairs: (/** @type {number} */ n) => {
      for (let i = 0; i < n; i++) lib.free(lib.alloc(SIZE));
    },
    churn: (/** @type {number} */ n) => {
      fill(() => SIZE);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const j = picks[i % picks.length];
        lib.free(live[j]);
        live[j] = lib.alloc(SIZE);
      }
      const ms = performance.now() - t0;
      drain();
      return ms;
    },
    mixed: (/** @type {number} */ n) => {
      fill((i) => sizes[i]);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const j = picks[i % picks.length];
        lib.free(live[j]);
        live[j] = lib.alloc(sizes[i % sizes.length]);
      }
      const ms = performance.now() - t0;
      drain();
      return ms;
    },
  };
}

/**
 * Nanoseconds per operation of `fn(n)`, which returns its own time in ms or nothing (then the
 * whole call is timed). @param {(n: number) => number | void} fn @param {number} n
 */
function nsPerOp(fn, n) {
  const t0 = performance.now();
  const own = fn(n);
  return ((typeof own === 'number' ? own : performance.now() - t0) * 1e6) / n;
}

/** @param {object} workerData */
async function start(workerData) {
  const w = new Worker(WORKER, { workerData });
  await once(w, 'message'); // ready
  return w;
}

/** Runs `iterations` in each worker at once; the wall time in ms. @param {Worker[]} ws @param {number} iterations */
async function together(ws, iterations) {
  const t0 = performance.now();
  const done = ws.map((w) => once(w, 'message'));
  for (const w of ws) w.postMessage({ iterations });
  await Promise.all(done);
  return performance.now() - t0;
}

/**
 * The multi-worker rows of one library: 1 worker and 2 at once doing pairs (medians of rounds,
 * each scaling the median of the back-to-back ratios), and a producer worker allocating blocks
 * that a consumer worker frees (ns per block).
 * @param {Record<string, unknown>} data what the workers need to attach (lib, handle or memory)
 * @param {{ rounds: number, iterations: number }} o
 */
async function workerRows(data, { rounds, iterations }) {
  const pairs = [await start({ ...data, role: 'pairs' }), await start({ ...data, role: 'pairs' })];
  await together(pairs, iterations); // warm-up
  await together([pairs[0]], iterations);
  /** @type {number[]} */ const one = [];
  /** @type {number[]} */ const two = [];
  /** @type {number[]} */ const ratio = [];
  for (let r = 0; r < rounds; r++) {
    const a = iterations / (await together([pairs[0]], iterations));
    const b = (2 * iterations) / (await together(pairs, iterations));
    one.push(a);
    two.push(b);
    ratio.push(b / a);
  }
  await Promise.all(pairs.map((w) => w.terminate()));
  const ring = new SharedArrayBuffer(4 * (2 + 256));
  const pipe = [await start({ ...data, role: 'producer', ring }), await start({ ...data, role: 'consumer', ring })];
  await together(pipe, iterations); // warm-up
  /** @type {number[]} */ const remote = [];
  for (let r = 0; r < rounds; r++) remote.push((await together(pipe, iterations)) * 1e6 / iterations);
  await Promise.all(pipe.map((w) => w.terminate()));
  // per op in ms → ns: 1e6 / ops-per-ms
  return { ns1: 1e6 / median(one), ns2: 1e6 / median(two), scaling: median(ratio), remoteNs: median(remote) };
}

/**
 * Runs the heap rows. Returns `rows` ([name, medianNs, baseline name | null], in run.js's order)
 * and the summary figures for results.json (`heap`). Without `sys.heap` in the built package
 * (before the heap lands), only the peers' rows.
 * @param {{ quick: boolean }} o
 */
export async function heapBench({ quick }) {
  const rounds = quick ? 5 : 11;
  const n = quick ? 50_000 : 200_000;
  const next = random(17);
  const picks = Int32Array.from({ length: 1 << 16 }, () => Math.floor(next() * LIVE));
  // Sizes from 8 B to 2 KiB, as many of each power-of-two range: small ones as often as large.
  const sizes = Int32Array.from({ length: 1 << 16 }, () => Math.max(8, Math.floor(2 ** (3 + next() * 8))));

  const smoBuild = buildSharedMemoryObjects();
  shimWorkerGlobals();
  try {
    const smoModule = await import(smoBuild.entry);
    const pool = new MemPool({ buf: new SharedArrayBuffer(16 << 20) });
    const smoHeap = new smoModule.MemoryHeap(); // its default: 8 KiB buffers, added as needed
    const sys = FrameSystem.create({ frames: 8192 });
    const heap = /** @type {{ heap?: { alloc(n: number, align?: number): number, free(a: number): void } }} */ (/** @type {unknown} */ (sys)).heap;

    /** @type {Record<string, Lib>} */
    const libs = {
      thing: { alloc: (size) => pool.malloc(size), free: (a) => pool.free(/** @type {number} */ (a)) },
      smo: { alloc: (size) => smoHeap.allocUI32(Math.ceil(size / 4)), free: (m) => /** @type {{ free(): void }} */ (m).free() },
    };
    if (heap !== undefined) libs.heap = { alloc: (size) => heap.alloc(size), free: (a) => heap.free(/** @type {number} */ (a)) };
    // Each library gets its own copy of the loops (compiled from the same source): V8 keeps type
    // feedback per function, so each library's calls stay monomorphic and inlinable, as in a program
    // that uses one allocator; one shared copy would make every call site megamorphic and add the
    // same ~25 ns to each library's pair, flattering the slower one's ratio.
    const fresh = () => /** @type {typeof loops} */ (new Function('LIVE', 'SIZE', `return (${loops.toString()})`)(LIVE, SIZE));
    const timed = Object.fromEntries(Object.entries(libs).map(([k, lib]) => [k, fresh()(lib, picks, sizes)]));

    /** @type {Record<string, number[]>} */
    const ns = {};
    const record = (/** @type {string} */ key, /** @type {number} */ v) => (ns[key] ??= []).push(v);
    for (let r = -2; r < rounds; r++) { // two rounds of warm-up
      for (const [k, t] of Object.entries(timed)) {
        const pair = nsPerOp(t.pairs, n);
        const churn = nsPerOp(t.churn, n / 4);
        const mixed = nsPerOp(t.mixed, n / 4);
        if (r < 0) continue;
        record(`pairs.${k}`, pair);
        record(`churn.${k}`, churn);
        record(`mixed.${k}`, mixed);
      }
    }
    const m = (/** @type {string} */ key) => median(ns[key]);

    // The workers share a heap of 32 buffers made up front: one that grows in a worker must be
    // told to the others by a message (`addOnGrowBufferHandlers`), which these loops never read.
    const smoShared = new smoModule.MemoryHeap({ initialBuffers: 32 });
    const smoWorkers = await workerRows({ lib: 'smo', smo: smoBuild.entry, memory: smoShared.getSharedMemory() }, { rounds, iterations: n });
    const heapWorkers = heap === undefined ? undefined : await workerRows({ lib: 'pageframe', handle: sys.handle }, { rounds, iterations: n });

    const R = HEAP_ROWS;
    /** @type {[string, number, string | null][]} */
    const rows = [
      [R.thing, m('pairs.thing'), null],
      [R.smo, m('pairs.smo'), null],
      [R.churnThing, m('churn.thing'), null],
      [R.churnSmo, m('churn.smo'), null],
      [R.mixedThing, m('mixed.thing'), null],
      [R.mixedSmo, m('mixed.smo'), null],
      [R.smo1, smoWorkers.ns1, null],
      [R.smo2, smoWorkers.ns2, R.smo1],
      [R.remoteSmo, smoWorkers.remoteNs, null],
    ];
    /** @type {Record<string, number | null>} */
    const summary = {
      /** shared-memory-objects' throughput with 2 workers over 1: its lock's ceiling. */
      smoScaling2Workers: Number(smoWorkers.scaling.toFixed(3)),
    };
    if (heapWorkers !== undefined) {
      rows.push(
        [R.heap, m('pairs.heap'), R.thing],
        [R.heapVsSmo, m('pairs.heap'), R.smo],
        [R.churnHeap, m('churn.heap'), R.churnThing],
        [R.churnHeapVsSmo, m('churn.heap'), R.churnSmo],
        [R.mixedHeap, m('mixed.heap'), R.mixedThing],
        [R.mixedHeapVsSmo, m('mixed.heap'), R.mixedSmo],
        [R.heap1, heapWorkers.ns1, R.smo1],
        [R.heap2, heapWorkers.ns2, R.heap1],
        [R.remoteHeap, heapWorkers.remoteNs, R.remoteSmo],
      );
      const f = (/** @type {number} */ x) => Number(x.toFixed(3));
      Object.assign(summary, {
        vsThing: f(m('pairs.heap') / m('pairs.thing')),
        vsSharedMemoryObjects: f(m('pairs.smo') / m('pairs.heap')),
        scaling2Workers: f(heapWorkers.scaling),
        churnVsThing: f(m('churn.heap') / m('churn.thing')),
        churnVsSharedMemoryObjects: f(m('churn.smo') / m('churn.heap')),
        mixedVsThing: f(m('mixed.heap') / m('mixed.thing')),
        mixedVsSharedMemoryObjects: f(m('mixed.smo') / m('mixed.heap')),
        remoteFreeVsSharedMemoryObjects: f(smoWorkers.remoteNs / heapWorkers.remoteNs),
      });
    }
    sys.close();
    return { rows, summary };
  } finally {
    smoBuild.remove();
  }
}

// Alone: print the rows, write nothing.
if (import.meta.url === new URL(process.argv[1] ?? '', 'file:').href) {
  const { rows, summary } = await heapBench({ quick: process.argv.includes('--quick') });
  const byName = new Map(rows.map(([name, ns]) => [name, ns]));
  for (const [name, ns, baseline] of rows) {
    const t = ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(1)} ns`;
    const ratio = baseline === null ? '' : `${(ns / /** @type {number} */ (byName.get(baseline))).toFixed(3)}×`;
    console.log(`${name.padEnd(72)}${t.padEnd(12)}${ratio.padEnd(10)}${baseline ?? '(baseline)'}`);
  }
  console.log(JSON.stringify(summary));
}
