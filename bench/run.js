// pageframe micro-benchmarks: each row is timed with tinybench in this process, next to its
// baseline, and reported as the median time per operation and its ratio to the baseline.
// Prints a table; with `--out FILE.json`, also writes the results there and a chart beside it
// (FILE.svg): nothing is written unless asked, so a run never dirties the repository's committed
// results by accident (`npm run bench:record` refreshes bench/results.json and .svg on purpose).
// Run: npm run bench (`-- --quick` for a shorter run). Runs on Deno and Bun too
// (`pageframe bench --runtime deno --out bench/results-deno.json`). See bench/README.md for what
// each row measures.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { cpus } from 'node:os';
import { MemPool } from '@thi.ng/malloc';
import { Bench } from 'tinybench';
import { FrameAllocOptions, FrameSystem, META_SLOT_SIZE, PAGE_SIZE } from '../dist/index.js';
import { chart } from './chart.js';
import { atomicsFloor, folioFloor } from './floor.js';
import { heapBench } from './heap.js';
import { streams } from './streams.js';
import { growth, handoff, roundTrip, scaling } from './workers.js';

/** The runtime running the benchmarks (its runs are recorded in results-deno.json /
 *  results-bun.json beside Node's results.json: `pageframe bench --runtime deno --out ...`). */
const g = /** @type {{ Deno?: { version: { deno: string } }, Bun?: { version: string } }} */ (/** @type {unknown} */ (globalThis));
const RUNTIME_VERSION = g.Deno !== undefined ? `Deno ${g.Deno.version.deno}` : g.Bun !== undefined ? `Bun ${g.Bun.version}` : `Node ${process.version}`;
/** Where to write the results (`--out FILE.json`; the chart goes to FILE.svg), or nowhere. */
const outAt = process.argv.indexOf('--out');
const OUT = outAt < 0 ? undefined : process.argv[outAt + 1];
if (OUT !== undefined && !OUT.endsWith('.json')) throw new Error(`--out ${OUT}: give a file name ending in .json (the chart is written beside it, as .svg)`);
if (outAt >= 0 && OUT === undefined) throw new Error('--out: give a file name ending in .json');

const INNER = 1000; // operations per timed sample: ns-scale work needs batching to beat timer overhead
const quick = process.argv.includes('--quick');
const bench = new Bench({ time: quick ? 200 : 1000, warmupTime: quick ? 50 : 200 });

const sys = FrameSystem.create({ frames: 4096 });
const raw = new FrameAllocOptions(sys).zeroed(false);
// The same on a plain SharedArrayBuffer: JS Atomics and no WebAssembly fast path (what a region
// gets in memory the application made itself as a SharedArrayBuffer).
const sabSys = FrameSystem.create({ frames: 4096, memory: new SharedArrayBuffer(8 * 2 ** 20 + 4096 * 4096) });
const sabRaw = new FrameAllocOptions(sabSys).zeroed(false);
const zeroed = new FrameAllocOptions(sys);
const pool = new MemPool({ buf: new SharedArrayBuffer(64 * 2 ** 20) });
const counter = new Int32Array(new SharedArrayBuffer(64));
// The plain free-list baseline: a stack of frame indices in a typed array (no atomics, no metadata).
const freeList = new Int32Array(new SharedArrayBuffer(4 * 4096));
let freeTop = 4096;
for (let i = 0; i < 4096; i++) freeList[i] = i;
const shared = sys.allocFrame();
const checkedSys = FrameSystem.create({ frames: 4096, checked: true });
const checkedRaw = new FrameAllocOptions(checkedSys).zeroed(false);
const checkedShared = checkedSys.allocFrame();
const lightSys = FrameSystem.create({ frames: 4096, checked: true, leakStacks: false });
const lightRaw = new FrameAllocOptions(lightSys).zeroed(false);
let sink = 0;
const FLOOR = '1000 × (CAS, atomic store, CAS) on 64-B slots (WebAssembly)';
const floor1000 = atomicsFloor(1000);
const FOLIO = 'folio-style floor: 1 × (CAS, store, CAS) + 2 × 999 plain stores (WebAssembly)';
const folio1000 = folioFloor(1000);

/**
 * Rows: name, the timed function, operations per call, and the baseline row's name (null for a
 * baseline).
 * @type {[string, () => void, number, string | null][]}
 */
const rows = [
  ['@thi.ng/malloc malloc+free 4 KiB', () => {
    for (let i = 0; i < INNER; i++) pool.free(pool.malloc(PAGE_SIZE));
  }, INNER, null],
  ['new ArrayBuffer(4096)', () => {
    for (let i = 0; i < INNER; i++) sink += new ArrayBuffer(PAGE_SIZE).byteLength;
  }, INNER, null],
  ['new Uint8Array(4096)', () => {
    for (let i = 0; i < INNER; i++) sink += new Uint8Array(PAGE_SIZE).length;
  }, INNER, null],
  ['plain free list pop+push (typed-array stack)', () => {
    for (let i = 0; i < INNER; i++) {
      const f = freeList[--freeTop];
      freeList[freeTop++] = f;
    }
  }, INNER, null],
  ['Atomics.add pair', () => {
    for (let i = 0; i < INNER; i++) {
      Atomics.add(counter, 0, 1);
      Atomics.sub(counter, 0, 1);
    }
  }, INNER, null],
  ['new ArrayBuffer(1000 × 4096)', () => {
    sink += new ArrayBuffer(1000 * PAGE_SIZE).byteLength;
  }, 1, null],
  [FLOOR, floor1000, 1, null],
  [FOLIO, folio1000, 1, FLOOR],
  ['allocator alloc+dealloc 1 frame (raw address)', () => {
    const a = sys.allocator;
    for (let i = 0; i < INNER; i++) a.dealloc(/** @type {number} */ (a.alloc(1, 1)), 1);
  }, INNER, '@thi.ng/malloc malloc+free 4 KiB'],
  ['frame alloc+drop, not zeroed (handle)', () => {
    for (let i = 0; i < INNER; i++) raw.allocFrame().drop();
  }, INNER, '@thi.ng/malloc malloc+free 4 KiB'],
  ['frame alloc+drop, not zeroed (handle), region on a SharedArrayBuffer', () => {
    for (let i = 0; i < INNER; i++) sabRaw.allocFrame().drop();
  }, INNER, '@thi.ng/malloc malloc+free 4 KiB'],
  ['frame alloc+drop, zeroed (handle)', () => {
    for (let i = 0; i < INNER; i++) zeroed.allocFrame().drop();
  }, INNER, 'new ArrayBuffer(4096)'],
  ['frame clone+drop', () => {
    for (let i = 0; i < INNER; i++) shared.clone().drop();
  }, INNER, 'Atomics.add pair'],
  ['checked mode: frame alloc+drop, not zeroed (handle)', () => {
    for (let i = 0; i < INNER; i++) checkedRaw.allocFrame().drop();
  }, INNER, 'frame alloc+drop, not zeroed (handle)'],
  ['checked mode without leak stacks: frame alloc+drop, not zeroed', () => {
    for (let i = 0; i < INNER; i++) lightRaw.allocFrame().drop();
  }, INNER, 'frame alloc+drop, not zeroed (handle)'],
  ['checked mode: frame clone+drop', () => {
    for (let i = 0; i < INNER; i++) checkedShared.clone().drop();
  }, INNER, 'frame clone+drop'],
  ['segment of 1000 frames alloc+drop, not zeroed', () => {
    raw.allocSegment(1000).drop();
  }, 1, 'new ArrayBuffer(1000 × 4096)'],
  ['segment of 1000 frames alloc+drop, zeroed', () => {
    zeroed.allocSegment(1000).drop();
  }, 1, 'new ArrayBuffer(1000 × 4096)'],
];

for (const [name, fn] of rows) bench.add(name, fn);
await bench.run();

/** @type {Map<string, number>} */
const medianNs = new Map();
for (const [name, , inner] of rows) {
  const result = bench.getTask(name)?.result;
  if (result === undefined || !('latency' in result)) throw new Error(`benchmark '${name}' did not complete`);
  medianNs.set(name, (result.latency.p50 * 1e6) / inner);
}
/** @param {string} name */
const median = (name) => /** @type {number} */ (medianNs.get(name));
// Rows timed once above and reported against a second baseline too: [name, timed row, baseline].
for (const [name, timed, baseline] of /** @type {[string, string, string][]} */ ([
  ['frame alloc+drop, not zeroed, vs a plain free list', 'frame alloc+drop, not zeroed (handle)', 'plain free list pop+push (typed-array stack)'],
  ['frame alloc+drop, zeroed (handle), vs new Uint8Array(4096)', 'frame alloc+drop, zeroed (handle)', 'new Uint8Array(4096)'],
  ['segment of 1000 frames alloc+drop, not zeroed, vs its atomics alone', 'segment of 1000 frames alloc+drop, not zeroed', FLOOR],
])) {
  medianNs.set(name, median(timed));
  rows.push([name, () => {}, 1, baseline]);
}

// Multi-worker rows: measured by bench/workers.js (medians of rounds), not by tinybench.
const scale = await scaling({ rounds: quick ? 3 : 7, iterations: quick ? 100_000 : 400_000 });
medianNs.set('frame alloc+drop, 1 worker', scale.nsPerOp1);
medianNs.set('frame alloc+drop, 2 workers at once (aggregate)', scale.nsPerOp2);
rows.push(['frame alloc+drop, 1 worker', () => {}, 1, null]);
rows.push(['frame alloc+drop, 2 workers at once (aggregate)', () => {}, 1, 'frame alloc+drop, 1 worker']);
medianNs.set('plain loop on private memory, 1 worker', scale.plainNsPerOp1);
medianNs.set('plain loop on private memory, 2 workers at once (aggregate)', scale.plainNsPerOp2);
rows.push(['plain loop on private memory, 1 worker', () => {}, 1, null]);
rows.push(['plain loop on private memory, 2 workers at once (aggregate)', () => {}, 1, 'plain loop on private memory, 1 worker']);
/** @type {Record<string, { channelNs: number, copyNs: number, transferNs: number }>} */
const hand = {};
for (const [label, bytes, trips] of /** @type {[string, number, number][]} */ ([['4 KiB', 4096, quick ? 100 : 400], ['1 MiB', 1 << 20, quick ? 20 : 100]])) {
  const h = await handoff({ bytes, rounds: quick ? 3 : 7, trips });
  hand[label] = h;
  const copy = `hand-off ${label}: postMessage copy (round trip)`;
  medianNs.set(copy, h.copyNs);
  medianNs.set(`hand-off ${label}: postMessage transfer (round trip)`, h.transferNs);
  medianNs.set(`hand-off ${label}: FrameChannel (round trip)`, h.channelNs);
  rows.push([copy, () => {}, 1, null]);
  rows.push([`hand-off ${label}: postMessage transfer (round trip)`, () => {}, 1, copy]);
  rows.push([`hand-off ${label}: FrameChannel (round trip)`, () => {}, 1, copy]);
}

// Growth, in a worker of its own: grow per frame added, and alloc+drop before and after a grow.
const grew = await growth({ rounds: quick ? 5 : 11, iterations: quick ? 200_000 : 1_000_000, growBy: 256, grows: quick ? 50 : 200 });
medianNs.set('sys.grow(256): per frame added', grew.growNsPerFrame);
rows.push(['sys.grow(256): per frame added', () => {}, 1, 'new ArrayBuffer(4096)']);
medianNs.set('frame alloc+drop, not zeroed, in a region before it grows (own worker)', grew.before);
medianNs.set('frame alloc+drop, not zeroed, after it grew (frames past the old end)', grew.after);
rows.push(['frame alloc+drop, not zeroed, in a region before it grows (own worker)', () => {}, 1, null]);
rows.push(['frame alloc+drop, not zeroed, after it grew (frames past the old end)', () => {}, 1, 'frame alloc+drop, not zeroed, in a region before it grows (own worker)']);

// Round trips one at a time, idle and with a busy worker: the median and the 99th percentile.
/** @type {Record<string, { medianNs: number, p99Ns: number }>} */
const trips = {};
for (const busy of [0, 1]) {
  const label = busy === 0 ? 'idle' : 'a busy worker on the other core';
  const t = await roundTrip({ trips: quick ? 5000 : 20_000, busy });
  trips[busy === 0 ? 'idle' : 'busy'] = t;
  const mid = `FrameChannel 4 KiB round trip, ${label}: median`;
  medianNs.set(mid, t.medianNs);
  medianNs.set(`FrameChannel 4 KiB round trip, ${label}: 99th percentile`, t.p99Ns);
  rows.push([mid, () => {}, 1, null]);
  rows.push([`FrameChannel 4 KiB round trip, ${label}: 99th percentile`, () => {}, 1, mid]);
}

// Streams: a producer worker to a consumer worker (bench/streams.js); per-message time, each
// against postMessage with a transfer in the same run.
const STREAM_SIZES = /** @type {const} */ ([[256, '256 B'], [4096, '4 KiB'], [65536, '64 KiB'], [1 << 20, '1 MiB']]);
const WORK = { set: 'written with set, every byte read', fill: 'written with fill, every byte read', none: 'hand-off only' };
const TRANSPORT = { channel: 'FrameChannel', transfer: 'postMessage transfer', ringbuf: 'ringbuf.js' };
const stream = await streams({ sizes: STREAM_SIZES.map(([n]) => n), total: quick ? 32 << 20 : 128 << 20, minMessages: quick ? 128 : 512, rounds: quick ? 3 : 5 });
/** @param {number} size @param {string} transport @param {string} work */
const streamRow = (size, transport, work) => {
  const label = STREAM_SIZES.find(([n]) => n === size)?.[1];
  return `stream ${label}: ${TRANSPORT[/** @type {keyof typeof TRANSPORT} */ (transport)]}, ${WORK[/** @type {keyof typeof WORK} */ (work)]}`;
};
for (const r of stream) {
  const name = streamRow(r.size, r.transport, r.work);
  medianNs.set(name, r.nsPerMessage);
  const baseline = r.transport === 'transfer' ? null : streamRow(r.size, 'transfer', r.work === 'none' ? 'none' : 'set');
  rows.push([name, () => {}, 1, baseline]);
}
// The heap (bench/heap.js): small blocks against @thi.ng/malloc and shared-memory-objects.
const heapRun = await heapBench({ quick });
for (const [name, ns, baseline] of heapRun.rows) {
  medianNs.set(name, ns);
  rows.push([name, () => {}, 1, baseline]);
}

/** @param {number} size @param {string} transport @param {string} work */
const streamOf = (size, transport, work) => /** @type {(typeof stream)[number]} */ (stream.find((r) => r.size === size && r.transport === transport && r.work === work));

const results = rows.map(([name, , , baseline]) => {
  const ns = median(name);
  return {
    name,
    medianNs: Number(ns.toFixed(1)),
    baseline,
    ratio: baseline === null ? null : Number((ns / median(baseline)).toFixed(3)),
  };
});

const region = FrameSystem.create({ frames: 1024 });
// The region's own bytes (header, slots, padding, frames): an internal figure, so reached past the
// published types (`_region` is @internal).
const regionBytes = /** @type {{ _region: { mem: { u8: Uint8Array } } }} */ (/** @type {unknown} */ (region))._region.mem.u8.byteLength;
const out = {
  date: new Date().toISOString(),
  runtime: RUNTIME_VERSION,
  node: process.version, // what the runtime says it is compatible with, on Deno and Bun
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  rows: results,
  /** Memory overhead: one 64-byte slot per 4 KiB frame plus a fixed header (and padding to the
   *  next page), measured on a region of 1024 frames. */
  overhead: {
    frames: 1024,
    regionBytes,
    frameBytes: 1024 * PAGE_SIZE,
    slotBytesPerFrame: META_SLOT_SIZE,
    fixedBytes: regionBytes - 1024 * PAGE_SIZE - 1024 * META_SLOT_SIZE,
  },
  /** Throughput of 2 workers allocating at once over 1 worker (goal >= 1.8): the median over
   *  rounds of the ratio measured back to back. */
  scaling2Workers: Number(scale.scaling.toFixed(3)),
  /** The same ratio for a plain loop that shares nothing, in rounds interleaved with those: what
   *  this machine gave two threads at the time (the ceiling of `scaling2Workers`). */
  machineScaling2Workers: Number(scale.machineScaling.toFixed(3)),
  /** How many times faster a 1 MiB round trip is through a FrameChannel than a postMessage copy (goal >= 100). */
  handoff1MiBVsCopy: Number((hand['1 MiB'].copyNs / hand['1 MiB'].channelNs).toFixed(1)),
  /** A FrameChannel stream's throughput over postMessage with a transfer's, 64 KiB messages
   *  written with `set` and read whole (goal >= 1). */
  streamVsTransfer64KiB: Number((streamOf(65536, 'channel', 'set').mbPerS / streamOf(65536, 'transfer', 'set').mbPerS).toFixed(3)),
  /** The same ratio at 4 KiB. */
  streamVsTransfer4KiB: Number((streamOf(4096, 'channel', 'set').mbPerS / streamOf(4096, 'transfer', 'set').mbPerS).toFixed(3)),
  /** A FrameChannel stream's throughput over ringbuf.js's (a wait-free SPSC ring that copies the
   *  bytes in and out), 64 KiB and 4 KiB messages, written with `set` and read whole (issue #15). */
  streamVsRingbuf64KiB: Number((streamOf(65536, 'channel', 'set').mbPerS / streamOf(65536, 'ringbuf', 'set').mbPerS).toFixed(3)),
  streamVsRingbuf4KiB: Number((streamOf(4096, 'channel', 'set').mbPerS / streamOf(4096, 'ringbuf', 'set').mbPerS).toFixed(3)),
  /** A FrameChannel's per-message hand-off cost over postMessage with a transfer's, 64 KiB,
   *  nothing written or read (goal <= 0.2). */
  handoffVsTransfer64KiB: Number((streamOf(65536, 'channel', 'none').nsPerMessage / streamOf(65536, 'transfer', 'none').nsPerMessage).toFixed(3)),
  /** Every stream row: message size, transport, work, ns per message and MB/s. */
  streams: stream.map((r) => ({ ...r, nsPerMessage: Number(r.nsPerMessage.toFixed(1)), mbPerS: Number(r.mbPerS.toFixed(0)) })),
  /** 4 KiB round trips through two FrameChannels: median and 99th percentile (ns), idle and with a
   *  busy worker (goal: p99 under load < 50 µs). */
  roundTrip4KiB: trips,
  /** The heap (bench/heap.js), each a ratio of medians in this run: `vsThing`, sys.heap's 64 B
   *  alloc+free time over @thi.ng/malloc's (goal <= 1.5); `vsSharedMemoryObjects`, how many
   *  times faster than shared-memory-objects' (goal >= 10); `scaling2Workers`, 2 workers' throughput
   *  over 1's (goal >= 1.8); the same against both for 1000 live blocks churned at random and for
   *  mixed sizes; `remoteFreeVsSharedMemoryObjects`, blocks freed in another worker. */
  heap: heapRun.summary,
};
if (OUT !== undefined) {
  const json = resolve(OUT);
  writeFileSync(json, JSON.stringify(out, null, 2) + '\n');
  writeFileSync(json.replace(/\.json$/, '.svg'), chart(results, `pageframe bench: ${out.runtime}, ${out.cpus}`));
  console.log(`results written to ${json} and ${json.replace(/\.json$/, '.svg')}`);
}

/** @param {unknown} s @param {number} n */
const pad = (s, n) => String(s).padEnd(n);
console.log(`pageframe bench — ${out.runtime}, ${out.cpus}; medians per operation`);
console.log(pad('row', 72) + pad('median', 12) + pad('ratio', 10) + 'baseline');
for (const r of results) {
  const t = r.medianNs >= 1000 ? `${(r.medianNs / 1000).toFixed(2)} µs` : `${r.medianNs.toFixed(1)} ns`;
  console.log(pad(r.name, 72) + pad(t, 12) + pad(r.ratio === null ? '' : `${r.ratio}×`, 10) + (r.baseline ?? '(baseline)'));
}
console.log(
  `memory: ${out.overhead.slotBytesPerFrame} B of metadata per ${PAGE_SIZE} B frame + ${out.overhead.fixedBytes} B fixed (header and padding)`,
);
console.log(`2 workers / 1 worker throughput: ${out.scaling2Workers}× (a plain loop sharing nothing: ${out.machineScaling2Workers}×); 1 MiB hand-off, FrameChannel vs postMessage copy: ${out.handoff1MiBVsCopy}× faster`);
console.log(`streams, 64 KiB: FrameChannel throughput / postMessage transfer: ${out.streamVsTransfer64KiB}×, / ringbuf.js: ${out.streamVsRingbuf64KiB}×; hand-off cost / postMessage transfer: ${out.handoffVsTransfer64KiB}×`);
console.log(`heap: ${JSON.stringify(out.heap)}`);
for (const r of out.streams) console.log(`  stream ${String(r.size).padStart(7)} B ${r.transport.padEnd(8)} ${r.work.padEnd(4)} ${String(r.mbPerS).padStart(7)} MB/s`);
shared.drop();
checkedShared.drop();
if (sink === -1) console.log(sink);
