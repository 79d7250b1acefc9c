/**
 * The runtime probes (src/shm/probe.ts) against the real thing, on whichever runtime runs this
 * file (Node, Deno and Bun in `npm test`): the WebAssembly probe's answer is what a real worker
 * sees, and a region runs on what it says. Then runtimes made wrong on purpose, one fault each, in
 * a thread of their own: pageframe finds the fault at create/attach and falls back (JS Atomics
 * and no fast path; a timer where `Atomics.waitAsync` is missing, never ends, or stops ending),
 * and real workers still share frames through it. Without the probes each of these fails: the
 * region would run on WebAssembly, or the async waits would never end.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FrameSystem, runtimeSupport, type RuntimeSupport } from '../../src/index.js';
import { assemble, compile, instantiate, Op, word } from '../../src/shm/wasm.js';
import { sameThroughWasm } from '../../src/shm/probe.js';

const WORKER = new URL('./runtime.worker.js', import.meta.url);
/** A faulty run takes well under a second; a hung wait is what this bound catches. */
const ANSWER_MS = 15_000;

async function run<T>(workerData: object): Promise<T> {
  const w = new Worker(WORKER, { workerData });
  const errors: string[] = [];
  w.on('error', (e) => errors.push(String(e)));
  // A wait that never ends (what the faults are made of) fails here, not at the test's timeout.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ANSWER_MS} ms: ${errors.join('; ')}`)), ANSWER_MS)));
  const [answer] = (await Promise.race([once(w, 'message'), late]).finally(() => clearTimeout(timer))) as [T & { error?: string }];
  await w.terminate();
  if (answer.error !== undefined) throw new Error(answer.error);
  expect(errors).toEqual([]);
  return answer;
}

describe('the WebAssembly probe, on this runtime', () => {
  it('answers what a real worker sees of WebAssembly writes to a shared memory, and regions run on that answer', async () => {
    const module = compile(
      assemble([], [
        { name: 'store', params: 2, results: 0, body: [Op.localGet, 0, Op.localGet, 1, Op.i32Store, ...word()] },
        { name: 'fill', params: 3, results: 0, body: [Op.localGet, 0, Op.localGet, 1, Op.localGet, 2, Op.misc, 11, 0] },
      ]),
    );
    expect(module).not.toBeNull();
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 16, shared: true });
    const ex = instantiate(module, memory, {}) as unknown as { store(at: number, v: number): void; fill(at: number, b: number, n: number): void };
    const words = [0x1234_5678, -0x2468_ace0, 0x7fff_0001, 0x0101_0101];
    words.slice(0, 3).forEach((v, k) => ex.store(4 * k, v));
    ex.fill(12, 1, 4); // word 3: 0x01010101
    const reply = 0x5eed_0001;
    const seen = await run<{ js: number[]; wasm: number[] }>({ role: 'look', memory, words, at: 64, reply });
    const visible = JSON.stringify(seen.js) === JSON.stringify(words) && JSON.stringify(seen.wasm) === JSON.stringify(words) && Atomics.load(new Int32Array(memory.buffer), 16) === reply;

    const support = runtimeSupport();
    expect(support.wasm).toBe(visible);
    const sys = FrameSystem.create({ frames: 16 });
    expect(sys.handle.memory instanceof WebAssembly.Memory).toBe(visible);
    expect(sys._region.at.kind).toBe(visible ? 'wasm' : 'js');
    expect(sys._region.fast !== undefined).toBe(visible);
    sys.close();
  });

  it('an instance that reads other words than JS in the region gets JS Atomics (sameThroughWasm)', () => {
    const i32 = new Int32Array(new SharedArrayBuffer(64));
    i32.set([7, 8, 9]);
    expect(sameThroughWasm((w) => Atomics.load(i32, w), i32, 8)).toBe(true);
    expect(sameThroughWasm((w) => (w === 2 ? 0 : Atomics.load(i32, w)), i32, 8)).toBe(false); // a stale word 2
    expect(sameThroughWasm(() => 0, i32, 0)).toBe(true); // nothing to compare
  });

  it('says what this thread may do: shared memory and blocking here (a worker_threads or main thread)', () => {
    const s = runtimeSupport();
    expect(s.sharedMemory).toBe(true);
    expect(s.blocking).toBe(true);
    expect(['native', 'timer']).toContain(s.waitAsync);
  });
});

interface FaultyResult {
  before: RuntimeSupport;
  after: RuntimeSupport;
  own: { atomics: string; fast: boolean };
  picked: { wasmMemory: boolean; atomics: string; fast: boolean };
  peerSaw: { support: RuntimeSupport; atomics: string; fast: boolean; workerId: number };
  answerBytes: number[] | null;
  waitedMs: number;
  peerReceived: { first: number; last: number } | null;
  sendResult: boolean;
  sendMs: number;
  stats: { free: number; used: number };
  workers: number[];
  invariant: string | null;
  peerErrors: string[];
}

/** What every faulty run must show: the frames went both ways, waits ended, nothing leaked. */
function expectWorked(r: FaultyResult): void {
  expect(r.peerErrors).toEqual([]);
  expect(r.peerSaw.workerId).toBe(2);
  expect(r.answerBytes).toEqual([0x11, 0x11]); // the peer saw every 0xab byte, wrote 0x11 in place
  expect(r.peerReceived).toEqual({ first: 0x5c, last: 0x5c });
  expect(r.sendResult).toBe(false); // a full channel: false at the timeout
  expect(r.workers).toEqual([1]);
  expect(r.stats).toEqual(expect.objectContaining({ used: 0, free: 64 }));
  expect(r.invariant).toBeNull();
}

describe('a runtime whose WebAssembly writes other agents do not see (simulated in a thread of its own)', () => {
  it('is found at create and attach: regions run on JS Atomics without the fast path, create makes a SharedArrayBuffer, workers still share frames', async () => {
    const r = await run<FaultyResult>({ role: 'faulty', fault: 'wasm-copy' });
    expect(r.before.wasm).toBe(false);
    expect(r.own).toEqual({ atomics: 'js', fast: false }); // a WebAssembly.Memory given to create
    expect(r.picked).toEqual({ wasmMemory: false, atomics: 'js', fast: false }); // the memory create picks
    expect(r.peerSaw).toMatchObject({ atomics: 'js', fast: false }); // and at attach
    expect(r.peerSaw.support.wasm).toBe(false);
    expectWorked(r);
  });
});

describe('a runtime whose Atomics.waitAsync is missing or wrong (simulated in a thread of its own)', () => {
  it('missing (Firefox before 145): async waits use a timer, and end when the other worker acts', async () => {
    const r = await run<FaultyResult>({ role: 'faulty', fault: 'waitAsync-missing' });
    expect(r.before.waitAsync).toBe('timer');
    expect(r.peerSaw.support.waitAsync).toBe('timer');
    expect(r.own.atomics).toBe(runtimeSupport().wasm ? 'wasm' : 'js'); // nothing else changes
    expectWorked(r);
  });

  it('parks nothing and never ends (deno#14786, #15358): its probe fails, async waits use a timer and end', async () => {
    const r = await run<FaultyResult>({ role: 'faulty', fault: 'waitAsync-never' });
    expect(r.before.waitAsync).toBe('timer');
    expect(r.peerSaw.support.waitAsync).toBe('timer');
    expectWorked(r);
  });

  it('passes its probe, then its waits stop ending: the first overrun switches the thread to a timer; waits keep their bound', async () => {
    const r = await run<FaultyResult>({ role: 'faulty', fault: 'waitAsync-overrun' });
    expect(r.before.waitAsync).toBe('native'); // the probe's three calls went to the real one
    expect(r.after.waitAsync).toBe('timer');
    expectWorked(r);
  });
});

describe('a runtime without shared memory (simulated: no SharedArrayBuffer, as in a page without COOP/COEP)', () => {
  it('runtimeSupport says so, and create and attach throw FrameSystemError(BadMemory) naming the two headers', async () => {
    const sys = FrameSystem.create({ frames: 16 });
    type Thrown = { isFrameSystemError: boolean; name: string; code: string; message: string } | null;
    const r = await run<{ support: RuntimeSupport; create: Thrown; attach: Thrown }>({ role: 'no-shared-memory', handle: sys.handle });
    expect(r.support).toEqual({ sharedMemory: false, blocking: false, wasm: false, waitAsync: 'timer' });
    for (const t of [r.create, r.attach]) {
      expect(t).toMatchObject({ isFrameSystemError: true, name: 'FrameSystemError', code: 'BadMemory' });
      expect(t?.message).toContain('SharedArrayBuffer is not available');
      expect(t?.message).toContain("'Cross-Origin-Opener-Policy: same-origin'");
      expect(t?.message).toContain("'Cross-Origin-Embedder-Policy: require-corp'");
    }
    expect(sys.workers()).toEqual([1]); // the failed attach took no worker id
    sys.close();
  });
});
