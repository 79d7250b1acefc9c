/**
 * Deaths at named steps, with real `worker_threads`: a worker runs one operation of the library
 * (test/workers/death-step.worker.js) and stops for good at a named step of it, alive and idle;
 * the test terminates it there, as a worker killed at that instruction, reclaims it
 * (`reclaimWorker`) and checks that nothing is lost or stuck: the invariant holds, no slot is
 * busy, every frame is free but those held through handles (a dead worker's handles stay in use
 * by design: nobody knows them; the test takes them back by address where it can), the frame in
 * flight is delivered exactly once or is one of those, and a survivor
 * (test/workers/death-survivor.worker.js) completes its operation within a bound.
 *
 * The main thread never takes a lock the stopped worker may hold before a survivor has shown
 * the lock free (it would block for ever, beyond any test timeout): it waits for workers' answers
 * with a bound instead, so a recovery that does not happen fails the test rather than hanging it.
 * Each test says what would make it fail.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Frame, FrameChannel, FrameSystem, PAGE_SIZE, type ReclaimReport } from '../src/index.js';
import { ringAt } from '../src/region/channel-ring.js';
import { H_BUDDY_LOCK, H_DEFER_LOCK, H_REG_LOCK } from '../src/region/geometry.js';
import { expectAllFree, rawCount } from './helpers.js';

const STEP = new URL('./workers/death-step.worker.js', import.meta.url);
const SURVIVOR = new URL('./workers/death-survivor.worker.js', import.meta.url);

/** How long a survivor may take to make progress once the dead worker is reclaimed. */
const BOUND_MS = 5000;

/** The words of a channel's header, read from region/channel-ring.ts (they are private there). */
const ringSource = readFileSync(new URL('../src/region/channel-ring.ts', import.meta.url), 'utf8');
function ringOffset(name: string): number {
  const m = new RegExp(`const ${name} = (\\d+);`).exec(ringSource);
  if (m === null) throw new Error(`region/channel-ring.ts has no ${name}`);
  return Number(m[1]);
}

/** The index, in the region's Int32Array, of word `name` of channel `ch`'s ring. */
function ringWord(sys: FrameSystem, ch: FrameChannel, name: 'C_LOCK' | 'C_SENT' | 'C_RECEIVED' | 'C_RECV_WAITERS' | 'C_SEND_WAITERS'): number {
  return ringAt(sys._region, ch.handle.paddr) + ringOffset(name);
}

/** A worker of this file and the messages it sent that no one has taken yet. */
class Peer {
  private readonly queue: unknown[] = [];
  private readonly waiters: ((m: unknown) => void)[] = [];
  private failure: Error | undefined;
  private stopped = false;
  id = 0;

  private constructor(readonly worker: Worker) {
    worker.on('message', (m: unknown) => {
      const w = this.waiters.shift();
      if (w !== undefined) w(m);
      else this.queue.push(m);
    });
    const fail = (e: Error): void => {
      this.failure ??= e;
      for (const w of this.waiters.splice(0)) w(e);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!this.stopped) fail(new Error(`the worker exited (code ${code})`));
    });
  }

  /** Starts `script` on `sys`'s region; resolves once it has attached (its id is known). */
  static async start(script: URL, sys: FrameSystem): Promise<Peer> {
    const peer = new Peer(new Worker(script, { workerData: { handle: sys.handle } }));
    running.add(peer);
    peer.id = (await peer.next<{ workerId: number }>()).workerId;
    return peer;
  }

  post(msg: object): void {
    this.worker.postMessage(msg);
  }

  /** The next message; rejects on `{ error }`, on the worker's death, or after `timeoutMs`. */
  async next<T>(timeoutMs = BOUND_MS): Promise<T> {
    let m: unknown;
    if (this.queue.length > 0) m = this.queue.shift();
    else if (this.failure !== undefined) throw this.failure;
    else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      m = await new Promise<unknown>((resolve) => {
        this.waiters.push(resolve);
        timer = setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(resolve), 1);
          resolve(new Error(`no message from worker ${this.id} within ${timeoutMs} ms`));
        }, timeoutMs);
      });
      clearTimeout(timer);
    }
    if (m instanceof Error) throw m;
    const error = (m as { error?: string }).error;
    if (error !== undefined) throw new Error(`worker ${this.id}: ${error}`);
    return m as T;
  }

  async ask<T>(msg: object, timeoutMs = BOUND_MS): Promise<T> {
    this.post(msg);
    return this.next<T>(timeoutMs);
  }

  /** Terminates the worker (its 'exit' is then expected). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.worker.terminate();
    running.delete(this);
  }
}

const running = new Set<Peer>();

afterEach(async () => {
  await Promise.all([...running].map((p) => p.stop()));
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `ready` every millisecond; throws after `ms`. */
async function until(ready: () => boolean, what: string, ms = BOUND_MS): Promise<void> {
  const deadline = performance.now() + ms;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(1);
  }
}

/** The header's locks (allocator, type registry, deferred drops) are free. */
function expectHeaderLocksFree(sys: FrameSystem): void {
  const i32 = sys._region.mem.i32;
  expect([i32[H_BUDDY_LOCK], i32[H_REG_LOCK], i32[H_DEFER_LOCK]]).toEqual([0, 0, 0]);
}

/** A worker that reached `step` of the command `msg` (it said so), and what it said. */
async function stopAt<T extends object>(sys: FrameSystem, msg: { cmd: string; step?: string; [k: string]: unknown }): Promise<{ dying: Peer; at: T & { step: string } }> {
  const dying = await Peer.start(STEP, sys);
  dying.post(msg);
  let at = await dying.next<T & { step?: string; sending?: boolean }>();
  if (at.sending === true) at = { ...at, ...(await dying.next<T & { step?: string }>()) }; // a send says its item first
  expect(at.step).toBe(msg.step ?? 'segment:claimed');
  return { dying, at: at as T & { step: string } };
}

/** Terminates `dying` where it stopped and reclaims it from the main thread. */
async function killAndReclaim(sys: FrameSystem, dying: Peer): Promise<ReclaimReport> {
  await dying.stop();
  const report = sys.reclaimWorker(dying.id);
  expect(report.pending).toBe(false);
  expect(report.leftBusy).toBe(0);
  expect(sys.workers()).not.toContain(dying.id);
  return report;
}

/**
 * The end of a channel test: the survivors close, the references the dead worker held through
 * handles (`deadHeld`: its reference to the channel from `FrameChannel.open`, a frame it had
 * taken) are taken back by address, as a program that kept a record of them would (checked
 * mode refuses that for a reference that was never forgotten: they stay in use there, as
 * `keptChecked` frames), the channel closes, and then everything is free.
 */
async function finish(sys: FrameSystem, ch: FrameChannel, survivors: Peer[], deadHeld: number[], keptChecked = 0): Promise<void> {
  for (const p of survivors) await p.ask({ cmd: 'close' });
  expect(sys.stats().busy).toBe(0);
  if (sys.checked) {
    ch.close();
    sys.checkInvariants();
    expect(sys.stats()).toEqual(expect.objectContaining({ used: keptChecked, busy: 0 }));
    return;
  }
  for (const paddr of deadHeld) Frame.fromRaw(sys, paddr).drop();
  ch.close();
  expectAllFree(sys);
}

describe('a segment claim half done', () => {
  // Fails if reclaimWorker did not finish the dead worker's journaled allocation (the claimed
  // slots would stay busy, the others raw), or left the allocator short of a frame.
  it.each([
    { n: 3, stopAfter: 2, via: 'a run of its cache' },
    { n: 8, stopAfter: 5, via: 'the buddy level' },
  ])('$via: the claimed frames are rolled back and all $n freed', async ({ n, stopAfter }) => {
    const sys = FrameSystem.create({ frames: 64 });
    const { dying, at } = await stopAt<{ start: number; claimed: number }>(sys, { cmd: 'segment', n, stopAfter });
    expect(at.claimed).toBe(stopAfter);
    // Stopped: frames 0 .. stopAfter - 1 of the run are busy, its own; the rest are raw (taken from
    // the allocator, not claimed yet).
    for (let k = 0; k < n; k++) expect(rawCount(sys, at.start + k * PAGE_SIZE)).toBe(k < stopAfter ? 0 : -1);
    expect(sys.stats()).toEqual(expect.objectContaining({ busy: stopAfter, raw: n - stopAfter }));
    expectHeaderLocksFree(sys); // init runs outside every lock

    const report = await killAndReclaim(sys, dying);
    expect(report.teardowns).toBe(stopAfter);
    expect(report.locks).toEqual([]);
    expectAllFree(sys);
    // Nothing lost: the whole region is one segment again, and the allocator answers at once.
    sys.allocSegment(sys.nframes).drop();
    expectAllFree(sys);
  });
});

describe('a channel send stopped mid-way', () => {
  // Fails if the lock of a reclaimed holder were not taken over (lockTakingOver's isGone): the
  // receiver would wait for it until its timeout, past BOUND_MS; or if reclaim left a slot busy.
  it.each([
    { checked: false, nframes: undefined, what: 'a frame' },
    { checked: false, nframes: 3, what: 'a segment' },
    { checked: true, nframes: undefined, what: 'a frame (checked mode)' },
  ])('after writing the entry and the tail, before counting the send, lock held: $what is received exactly once', async ({ checked, nframes }) => {
    const sys = FrameSystem.create({ frames: 64, checked });
    const ch = FrameChannel.create(sys, 4);
    const receiver = await Peer.start(SURVIVOR, sys);
    await receiver.ask({ cmd: 'receive', ch: ch.handle, timeout: 10_000 }); // waiting
    const { dying, at } = await stopAt<{ paddr: number }>(sys, {
      cmd: 'send',
      step: 'send:written',
      ch: ch.handle,
      word: ringWord(sys, ch, 'C_SENT'),
      tag: 0x5a,
      nframes,
    });
    expect(ch.size).toBe(1); // the tail is published; the lock is the stopped worker's
    expect(sys._region.mem.i32[ringWord(sys, ch, 'C_LOCK')]).not.toBe(0);

    await killAndReclaim(sys, dying);
    // The receiver wakes (every sleep is capped), takes the lock over and gets the item.
    const got = await receiver.next<{ paddr: number | null; nframes: number; byte: number; count: number }>();
    expect(got).toEqual(expect.objectContaining({ paddr: at.paddr, nframes: nframes ?? 1, byte: 0x5a, count: 1 }));
    expect(ch.size).toBe(0);
    expect(ch.tryReceive()).toBeNull(); // the lock is free (the receiver gave it back)
    // The dead worker's reference to the channel (its FrameChannel.open) stays in use by design.
    await finish(sys, ch, [receiver], [ch.handle.paddr], 1);
  });

  // Fails if the lock of a reclaimed holder were not taken over: the survivor's send would wait
  // for it until its timeout, past BOUND_MS.
  it('holding the lock, before the item is written: the item stays the dead worker\'s handle; a survivor sends after the reclaim', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 4);
    const { dying, at } = await stopAt<{ paddr: number }>(sys, { cmd: 'send', step: 'send:locked', ch: ch.handle, tag: 0x11 });
    expect(ch.size).toBe(0);
    await killAndReclaim(sys, dying);

    const sender = await Peer.start(SURVIVOR, sys);
    const { paddr } = await sender.ask<{ paddr: number }>({ cmd: 'send', ch: ch.handle, tag: 0x22, timeout: 10_000 });
    expect(await sender.next()).toEqual(expect.objectContaining({ sent: true, paddr }));
    const f = ch.receive(undefined, 0)!;
    expect([f.paddr, f.bytes()[0]]).toEqual([paddr, 0x22]);
    f.drop();
    expect(ch.size).toBe(0);
    // The frame it was sending is still its handle's (count 1, never queued): in use by design.
    expect(rawCount(sys, at.paddr)).toBe(1);
    await finish(sys, ch, [sender], [at.paddr, ch.handle.paddr]);
  });

  // Fails if a sleeping receiver were not woken by the cap on every sleep (MAX_SLEEP_MS in
  // region/channel-ring.ts, finding F3): nobody notifies it, and it would sleep to its timeout.
  it('after the lock is released, before the wake-up: a sleeping receiver still gets the item, before the reclaim', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 4);
    const receiver = await Peer.start(SURVIVOR, sys);
    await receiver.ask({ cmd: 'receive', ch: ch.handle, timeout: 10_000 });
    const waiters = ringWord(sys, ch, 'C_RECV_WAITERS');
    await until(() => Atomics.load(sys._region.mem.i32, waiters) > 0, 'the receiver is asleep');
    // The step: wakeReceivers' look at the waiter count, which would be followed by the notify.
    const { dying, at } = await stopAt<{ paddr: number }>(sys, { cmd: 'send', step: 'send:unlocked', ch: ch.handle, word: waiters, tag: 0x33 });
    const got = await receiver.next<{ paddr: number | null; byte: number; count: number }>();
    expect(got).toEqual(expect.objectContaining({ paddr: at.paddr, byte: 0x33, count: 1 }));

    const report = await killAndReclaim(sys, dying);
    expect(report.locks).toEqual([]);
    expect(ch.size).toBe(0);
    await finish(sys, ch, [receiver], [ch.handle.paddr]);
  });
});

describe('a channel receive stopped mid-way', () => {
  // Fails if the lock of a reclaimed holder were not taken over (the next receiver would wait
  // for it until its timeout, past BOUND_MS), or if the entry had left the ring before the
  // receiver could no longer fail (it would be lost with the dead worker).
  it.each([false, true])('holding the lock, the handle made, the head not moved yet (checked %s): the next receiver gets the frame', async (checked) => {
    const sys = FrameSystem.create({ frames: 64, checked });
    const ch = FrameChannel.create(sys, 4);
    const f = sys.allocFrame();
    f.bytes()[0] = 0x44;
    const paddr = f.paddr;
    expect(ch.send(f)).toBe(true);
    const { dying, at } = await stopAt<{ paddr: number }>(sys, { cmd: 'receive', step: 'receive:restored', ch: ch.handle });
    expect(at.paddr).toBe(paddr);
    expect(ch.size).toBe(1);
    await killAndReclaim(sys, dying);

    const receiver = await Peer.start(SURVIVOR, sys);
    await receiver.ask({ cmd: 'receive', ch: ch.handle, timeout: 10_000 });
    expect(await receiver.next()).toEqual(expect.objectContaining({ paddr, byte: 0x44, count: 1 }));
    expect(ch.size).toBe(0);
    expect(ch.tryReceive()).toBeNull();
    await finish(sys, ch, [receiver], [ch.handle.paddr], 1);
  });

  // Fails if the lock of a reclaimed holder were not taken over, or if the blocked sender were
  // not woken by the cap on every sleep (nobody counts the receive nor notifies it): it would
  // wait until its timeout, past BOUND_MS.
  it.each([false, true])(
    'after the head moved, before counting the receive, lock held (checked %s): a blocked sender completes; the frame is the dead worker\'s',
    async (checked) => {
      const sys = FrameSystem.create({ frames: 64, checked });
      const ch = FrameChannel.create(sys, 1);
      const a = sys.allocFrame();
      const paddr = a.paddr;
      expect(ch.send(a)).toBe(true); // full
      const sender = await Peer.start(SURVIVOR, sys);
      const { paddr: sent } = await sender.ask<{ paddr: number }>({ cmd: 'send', ch: ch.handle, tag: 0x55, timeout: 10_000 });
      const { dying } = await stopAt(sys, { cmd: 'receive', step: 'receive:dequeued', ch: ch.handle, word: ringWord(sys, ch, 'C_RECEIVED') });
      expect(ch.size).toBe(0); // the entry left the ring: the frame is the stopped worker's now

      await killAndReclaim(sys, dying);
      expect(await sender.next()).toEqual(expect.objectContaining({ sent: true, paddr: sent }));
      const b = ch.receive(undefined, 0)!;
      expect([b.paddr, b.bytes()[0]]).toEqual([sent, 0x55]);
      b.drop();
      expect(ch.size).toBe(0);
      // Not duplicated, not busy: one reference, the dead worker's (the handle it was making):
      // in use by design. In checked mode its forgotten-reference record was taken with it.
      expect(rawCount(sys, paddr)).toBe(1);
      await finish(sys, ch, [sender], [paddr, ch.handle.paddr], 2);
    },
  );
});

describe("a channel's lock held by a stopped worker (alive and idle, then dead and not yet reclaimed)", () => {
  /** A worker stopped holding the channel's lock, with its item written (the tail published). */
  async function lockedBy(sys: FrameSystem, ch: FrameChannel, tag: number): Promise<{ dying: Peer; paddr: number }> {
    const { dying, at } = await stopAt<{ paddr: number }>(sys, { cmd: 'send', step: 'send:written', ch: ch.handle, word: ringWord(sys, ch, 'C_SENT'), tag });
    expect(ch.size).toBe(1);
    return { dying, paddr: at.paddr };
  }

  // Fails without the bound on the lock's wait (take and trySend waited for the ring's lock as
  // long as it took, whatever the timeout): the receive and the send would not answer until the
  // holder was terminated and reclaimed, which happens here only after they answer.
  it('a receive or a send with a timeout gives up at its deadline; once the holder is reclaimed the item comes', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 4);
    const { dying, paddr } = await lockedBy(sys, ch, 0x66);
    const survivor = await Peer.start(SURVIVOR, sys);
    await survivor.ask({ cmd: 'receive', ch: ch.handle, timeout: 300 });
    const none = await survivor.next<{ paddr: number | null; elapsed: number }>(3000);
    expect(none.paddr).toBeNull();
    expect(none.elapsed).toBeGreaterThanOrEqual(290);
    expect(none.elapsed).toBeLessThan(2000);
    await survivor.ask({ cmd: 'send', ch: ch.handle, tag: 0x77, timeout: 300 });
    const unsent = await survivor.next<{ sent: boolean; elapsed: number }>(3000);
    expect(unsent.sent).toBe(false); // and the survivor dropped its frame
    expect(unsent.elapsed).toBeGreaterThanOrEqual(290);
    expect(unsent.elapsed).toBeLessThan(2000);

    // Dead now, and not reclaimed yet: a timed receive still gives up at its deadline.
    await dying.stop();
    await survivor.ask({ cmd: 'receive', ch: ch.handle, timeout: 100 });
    expect(await survivor.next(3000)).toEqual(expect.objectContaining({ paddr: null }));
    expect(sys.reclaimWorker(dying.id)).toEqual(expect.objectContaining({ pending: false, leftBusy: 0 }));
    await survivor.ask({ cmd: 'receive', ch: ch.handle, timeout: 10_000 });
    expect(await survivor.next()).toEqual(expect.objectContaining({ paddr, byte: 0x66, count: 1 }));
    await finish(sys, ch, [survivor], [ch.handle.paddr]);
  });

  // Fails without the asynchronous wait for the lock (receiveAsync took the ring's lock as
  // receive does, blocking its thread until the holder was reclaimed): the survivor would answer
  // neither the ping nor the request to reclaim the holder, which only it is asked to do: its
  // receiveAsync would never end.
  it("receiveAsync waits for the lock without blocking its thread: that thread can reclaim the holder, then receives", async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 4);
    const { dying, paddr } = await lockedBy(sys, ch, 0x67);
    const survivor = await Peer.start(SURVIVOR, sys);
    await survivor.ask({ cmd: 'receiveAsync', ch: ch.handle, timeout: 10_000 }, 2000);
    expect(await survivor.ask({ cmd: 'ping', k: 1 }, 2000)).toEqual({ pong: 1 });
    await dying.stop(); // not reclaimed here: the survivor does it, on the thread its receive waits on
    const { reclaimed } = await survivor.ask<{ reclaimed: ReclaimReport }>({ cmd: 'reclaim', id: dying.id }, 2000);
    expect(reclaimed).toEqual(expect.objectContaining({ workerId: dying.id, pending: false }));
    expect(await survivor.next()).toEqual(expect.objectContaining({ paddr, byte: 0x67, count: 1 }));
    await finish(sys, ch, [survivor], [ch.handle.paddr]);
  });
});
