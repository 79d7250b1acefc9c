/**
 * The heap across real worker threads: blocks allocated in one worker and freed in another (both
 * ways), and two workers churning 100k random operations each while one is killed at a random
 * moment and reclaimed. Block contents are tagged, so two owners of one block show.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameSystem } from '../../src/index.js';
import { RUNTIME } from '../runtimes/current.js';

const SCRIPT = new URL('./heap.worker.js', import.meta.url);
const running = new Set<Worker>();
const errors: unknown[] = [];

afterEach(async () => {
  await Promise.all([...running].map((w) => w.terminate()));
  running.clear();
  errors.length = 0;
});

/** Starts a worker of heap.worker.js; resolves once it attached, with its worker id. */
async function start(data: Record<string, unknown>): Promise<{ worker: Worker; id: number; exited: Promise<unknown[]>; done: Promise<void> }> {
  const worker = new Worker(SCRIPT, { workerData: data });
  const exited = once(worker, 'exit'); // before any await: on Deno the exit may come in the same turn
  const done = new Promise<void>((resolve) => worker.on('message', (m) => m === 'done' && resolve()));
  running.add(worker);
  worker.on('error', (e) => errors.push(e));
  const [msg] = (await once(worker, 'message')) as [{ workerId: number }];
  return { worker, id: msg.workerId, exited, done };
}

/** Everything back: no block, no slab, every frame free, the region whole. */
function expectEmpty(sys: FrameSystem): void {
  sys.heap.trim();
  sys.checkInvariants();
  const s = sys.heap.stats();
  expect({ blocks: s.blocksInUse, slabs: s.slabs, cached: s.cachedSlots }).toEqual({ blocks: 0, slabs: 0, cached: 0 });
  expect(sys.stats().free).toBe(sys.stats().total);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('blocks freed in another worker than their allocator', () => {
  it('blocks this thread allocated are freed in a worker (into its cache, back at its close)', async () => {
    const sys = FrameSystem.create({ frames: 512 });
    const blocks: [number, number, number][] = [];
    for (let i = 0; i < 3000; i++) {
      const size = 1 + ((i * 7919) % (i % 50 === 0 ? 5000 : 300));
      const addr = sys.heap.alloc(size);
      const tag = (i % 255) + 1;
      const b = sys.bytes(addr, size);
      b[0] = tag;
      b[size - 1] = tag;
      blocks.push([addr, size, tag]);
    }
    const { exited, done } = await start({ handle: sys.handle, mode: 'free', blocks });
    await done;
    await exited;
    expect(errors).toEqual([]);
    expectEmpty(sys);
    sys.close();
  });

  it('blocks a worker allocated are freed here; its cached slots come back when it closes', async () => {
    const sys = FrameSystem.create({ frames: 256 });
    const { worker, exited, done } = await start({ handle: sys.handle, mode: 'alloc', n: 2000 });
    const [{ blocks }] = (await once(worker, 'message')) as [{ blocks: [number, number, number][] }];
    expect(sys.heap.stats().cachedSlots).toBeGreaterThan(0); // the worker's cache, seen from here
    for (const [addr, size, tag] of blocks) {
      const b = sys.bytes(addr, size);
      expect(b[0] === tag && b[size - 1] === tag).toBe(true);
      sys.heap.free(addr);
    }
    sys.checkInvariants();
    worker.postMessage('close');
    await done;
    await exited;
    expect(errors).toEqual([]);
    expectEmpty(sys);
    sys.close();
  });
});

// Deno's terminate() does not stop a thread busy in a loop (test/reclaim.test.ts says more).
describe.skipIf(RUNTIME === 'deno')('two workers × 100k random operations, one killed and reclaimed', () => {
  const SLOTS = 64;
  const OPS = 100_000;

  /**
   * A round: workers a and b churn; `kill` says how a dies: 'between' (at a random operation
   * boundary, its caches full), 'anywhere' (at a random instruction), or not at all. Then a is
   * reclaimed and the blocks its table names are freed here, as a service would.
   */
  async function round(kill: 'between' | 'anywhere' | 'quiet' | 'none'): Promise<void> {
    const sys = FrameSystem.create({ frames: 1024 });
    const table = new SharedArrayBuffer(2 * SLOTS * 4);
    const counter = new Int32Array(new SharedArrayBuffer(8));
    const pause = new Int32Array(new SharedArrayBuffer(8));
    const common = { handle: sys.handle, mode: 'churn', slots: SLOTS, table, counter: counter.buffer, ops: OPS, pause: pause.buffer };
    const pauseAt = kill === 'between' ? 1 + Math.floor(Math.random() * (OPS - 1)) : 0;
    const a = await start({ ...common, slot: 0, seed: (Math.random() * 2 ** 32) >>> 0, pauseAt });
    const paused = new Promise<void>((resolve) => a.worker.on('message', (m) => m === 'paused' && resolve()));
    const b = await start({ ...common, slot: 1, seed: (Math.random() * 2 ** 32) >>> 0 });
    if (kill === 'none') await a.done;
    else {
      if (kill === 'between') await paused;
      else {
        const at = Math.floor(Math.random() * OPS * 0.9);
        const deadline = Date.now() + 20_000;
        while (Atomics.load(counter, 0) < at) {
          expect(errors).toEqual([]);
          if (Date.now() > deadline) throw new Error(`no progress: ${Atomics.load(counter, 0)} of ${at}`);
          await sleep(0);
        }
      }
      await a.worker.terminate();
      if (kill === 'quiet') {
        // b stands still between two of its operations while a is reclaimed (unless it is done,
        // or waits for a lock a held: then it cannot, and the reclaim releases it).
        Atomics.store(pause, 0, 1);
        const until = Date.now() + 500;
        while (Atomics.load(pause, 1) !== 1 && Atomics.load(counter, 1) < OPS && Date.now() < until) await sleep(1);
      }
      const report = sys.reclaimWorker(a.id);
      expect(report.pending).toBe(false);
      if (kill === 'between') expect(report.heapSlots).toBeGreaterThan(0); // its caches were full
      const entries = new Uint32Array(table, 0, SLOTS);
      for (let i = 0; i < SLOTS; i++) if (entries[i] !== 0) sys.heap.free(entries[i] - 1);
      Atomics.store(pause, 0, 0);
      Atomics.notify(pause, 0);
    }
    await b.done;
    await Promise.all([a.exited, b.exited]);
    running.clear();
    expect(errors).toEqual([]);
    expect(Atomics.load(counter, 1)).toBe(OPS);
    sys.heap.trim();
    sys.checkInvariants();
    const s = sys.heap.stats();
    expect(s.cachedSlots).toBe(0);
    // Killed anywhere, a block between its alloc and its table entry, or one slot between a slab
    // and a cache, is lost with the worker (and frames of a large block it was freeing).
    const anywhere = kill === 'anywhere' || kill === 'quiet';
    expect(s.blocksInUse).toBeLessThanOrEqual(anywhere ? 1 : 0);
    if (!anywhere) expectEmpty(sys);
    else expect(s.slabs).toBeLessThanOrEqual(s.blocksInUse);
    sys.close();
  }

  it('killed between two operations: no block has two owners, its cached slots come back, nothing is lost', async () => {
    for (let k = 0; k < 3; k++) await round('between');
    await round('none');
  });

  it('killed at any instruction while the other churns, reclaimed while it stands still: at most one block or slot lost', async () => {
    for (let k = 0; k < 4; k++) await round('quiet');
  });

  // Killed at any instruction, the frame layer's reclaim sometimes corrupts the buddy allocator
  // or hands a frame out twice (a worker killed inside UniqueFrame.fromRaw(...).drop() or a raw
  // segment's drop; reproduced without the heap: see the report of issue #17's heap branch) when
  // it runs while another worker churns. The test above reclaims while the other stands still;
  // the heap's own steps under a death are model-checked in verify/heap.pml. Unskip once fixed.
  it.skip('killed at any instruction: the same, but at most its one block in flight lost', async () => {
    for (let k = 0; k < 4; k++) await round('anywhere');
  });
});
