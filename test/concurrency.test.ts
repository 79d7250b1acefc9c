/**
 * Real worker_threads on one region, through FrameChannels: ping-pong of one frame, several
 * workers churning (allocating, cloning, dropping, handing frames off through channels and by
 * address, and hammering the same shared frames at once), blocking receive and send woken across
 * threads, and receiveAsync keeping a worker's event loop running.
 *
 * The worker script (test/workers/chan.worker.js) runs the built package (dist/), which
 * `npm test` builds first. Only correctness is asserted; timeouts are generous, for liveness.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Frame, FrameChannel, FrameSystem, PAGE_SIZE, defineMeta } from '../src/index.js';
import { expectAllFree } from './helpers.js';

/** The end-of-stream marker the worker script knows (typed: no bytes). */
const EndMeta = defineMeta('test.concurrency.end', { from: 'u32' });
/** The type test/workers/chan.worker.js receives when asked for `other` frames. */
const OtherMeta = defineMeta('test.concurrency.other', { v: 'u32' });

/** A worker and the messages it sent that no one has taken yet. */
class Peer {
  readonly worker: Worker;
  private readonly queue: unknown[] = [];
  private readonly waiters: { resolve: (m: unknown) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  constructor(sys: FrameSystem) {
    this.worker = new Worker(new URL('./workers/chan.worker.js', import.meta.url), {
      workerData: { handle: sys.handle },
    });
    this.worker.on('message', (m: unknown) => {
      const w = this.waiters.shift();
      if (w !== undefined) w.resolve(m);
      else this.queue.push(m);
    });
    const fail = (e: Error): void => {
      this.failure ??= e;
      for (const w of this.waiters.splice(0)) w.reject(e);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the worker exited (code ${code})`)));
  }

  /** Messages received and not yet taken. */
  get pending(): number {
    return this.queue.length;
  }

  post(msg: object, transfer?: readonly import('node:worker_threads').Transferable[]): void {
    this.worker.postMessage(msg, transfer as never);
  }

  /** The next message; rejects on `{ error }`, on the worker's death, or after `timeoutMs`. */
  next<T>(timeoutMs = 15_000): Promise<T> {
    const check = (m: unknown): T => {
      const error = (m as { error?: string }).error;
      if (error !== undefined) throw new Error(`worker: ${error}`);
      return m as T;
    };
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift()).then(check);
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<unknown>((resolve, reject) => {
      const entry = { resolve, reject };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(entry);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no message from the worker within ${timeoutMs} ms`));
      }, timeoutMs);
      entry.resolve = (m) => {
        clearTimeout(timer);
        resolve(m);
      };
      entry.reject = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      this.waiters.push(entry);
    }).then(check);
  }

  async ask<T>(msg: object, timeoutMs?: number): Promise<T> {
    this.post(msg);
    return this.next<T>(timeoutMs);
  }
}

const peers: Peer[] = [];

function spawn(sys: FrameSystem): Peer {
  const p = new Peer(sys);
  peers.push(p);
  return p;
}

afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.worker.terminate()));
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The frame's words over shared memory. */
function words(f: Frame): Uint32Array {
  const b = (f as Frame<typeof import('../src/index.js').Untyped>).bytes();
  return new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
}

describe('ping-pong', () => {
  it('one frame goes back and forth 1000 times; each side increments its counter in place', async () => {
    const N = 1000;
    const sys = FrameSystem.create({ frames: 64 });
    const toWorker = FrameChannel.create(sys, 1);
    const toMain = FrameChannel.create(sys, 1);
    const peer = spawn(sys);
    expect((await peer.ask<{ workerId: number }>({ cmd: 'id' })).workerId).toBe(2);
    let f: Frame | null = sys.allocFrame();
    const paddr = f.paddr;
    peer.post({ cmd: 'pingpong', inbox: toWorker.handle, outbox: toMain.handle, n: N });
    const errors: string[] = [];
    for (let i = 0; i < N; i++) {
      const w = words(f);
      if (w[0] !== 2 * i) errors.push(`round ${i}: counter ${w[0]}, expected ${2 * i}`);
      w[0]++;
      expect(toWorker.send(f, 10_000)).toBe(true);
      f = toMain.receive(undefined, 10_000);
      if (f === null) throw new Error(`round ${i}: the frame did not come back within 10 s`);
      if (f.paddr !== paddr) errors.push(`round ${i}: came back as 0x${f.paddr.toString(16)}`);
    }
    const done = await peer.next<{ errors: string[] }>();
    expect(done.errors).toEqual([]);
    expect(errors).toEqual([]);
    expect(f.paddr).toBe(paddr);
    expect(words(f)[0]).toBe(2 * N);
    expect(f.referenceCount).toBe(1);
    f.drop();
    toWorker.close();
    toMain.close();
    await peer.ask({ cmd: 'close' });
    expect(sys.workers()).toEqual([1]);
    expectAllFree(sys);
  });
});

describe('churn', () => {
  interface ChurnResult {
    errors: string[];
    counts: { chanSent: number; chanReceived: number; rawSent: number; rawReceived: number; dropped: number };
  }

  async function churn(checked: boolean): Promise<void> {
    const W = 3; // workers
    const K = 4; // shared frames
    const ITERATIONS = 12_000;
    const ROUNDS = 4; // fromInUse/clone/drop rounds per shared frame per iteration
    const sys = FrameSystem.create({ frames: 4096, checked });
    expect(sys.checked).toBe(checked);

    const shared = Array.from({ length: K }, (_, k) => {
      const f = sys.allocFrame();
      f.fill(0x30 + k);
      return f;
    });
    const inboxes = Array.from({ length: W }, () => FrameChannel.create(sys, 16));
    const inFlight = new SharedArrayBuffer(4 * W);
    const ports = Array.from({ length: W }, () => new MessageChannel()); // ports[i]: i -> i+1
    const workers = Array.from({ length: W }, () => spawn(sys));
    const ids = await Promise.all(workers.map((p) => p.ask<{ workerId: number }>({ cmd: 'id' })));
    expect(new Set(ids.map((x) => x.workerId)).size).toBe(W);

    for (let i = 0; i < W; i++) {
      const inPort = ports[(i + W - 1) % W].port2;
      const outPort = ports[i].port1;
      workers[i].post(
        {
          cmd: 'churn',
          index: i,
          inboxes: inboxes.map((c) => c.handle),
          shared: shared.map((f) => f.clone().intoRaw()), // one reference per worker
          iterations: ITERATIONS,
          rounds: ROUNDS,
          inFlight,
          maxInFlight: 64,
          inPort,
          outPort,
        },
        [inPort, outPort],
      );
    }

    // While they run: every shared frame's count stays between main's own reference and main's
    // plus three per worker (its own, a fromInUse and a clone).
    let min = Infinity;
    let max = -Infinity;
    let samples = 0;
    const sampler = setInterval(() => {
      for (const f of shared) {
        const c = f.referenceCount;
        min = Math.min(min, c);
        max = Math.max(max, c);
      }
      samples++;
    }, 2);
    let results: ChurnResult[];
    try {
      results = await Promise.all(workers.map((p) => p.next<ChurnResult>(30_000)));
    } finally {
      clearInterval(sampler);
    }

    for (const r of results) expect(r.errors).toEqual([]);
    const total = (key: keyof ChurnResult['counts']): number => results.reduce((s, r) => s + r.counts[key], 0);
    expect(total('chanReceived')).toBe(total('chanSent'));
    expect(total('rawReceived')).toBe(total('rawSent'));
    expect(total('chanSent')).toBeGreaterThan(0);
    expect(total('rawSent')).toBeGreaterThan(0);
    expect(Array.from(new Int32Array(inFlight))).toEqual(new Array<number>(W).fill(0));
    // Each iteration `it` allocates 1 + it % 3 frames: each was sent on or dropped by its worker.
    let allocated = 0;
    for (let it = 0; it < ITERATIONS; it++) allocated += 1 + (it % 3);
    for (const r of results) expect(r.counts.chanSent + r.counts.rawSent + r.counts.dropped).toBe(allocated);
    if (samples > 0) {
      expect(min).toBeGreaterThanOrEqual(1);
      expect(max).toBeLessThanOrEqual(1 + 3 * W);
    }

    // The workers dropped every reference they had: the shared frames are back to main's one,
    // with their contents untouched.
    for (const [k, f] of shared.entries()) {
      expect(f.referenceCount).toBe(1);
      const b = f.bytes();
      expect(b[0]).toBe(0x30 + k);
      expect(b[PAGE_SIZE - 1]).toBe(0x30 + k);
    }
    for (const c of inboxes) expect(c.size).toBe(0);
    await Promise.all(workers.map((p) => p.ask({ cmd: 'close' })));
    expect(sys.workers()).toEqual([1]);
    for (const c of inboxes) c.close();
    for (const f of shared) f.drop();
    expectAllFree(sys);
  }

  it('three workers churn one region (unchecked): nothing lost, counts back, invariant holds', async () => {
    await churn(false);
  });

  it('three workers churn one region (checked): no ContractError, nothing lost, invariant holds', async () => {
    await churn(true);
  });
});

describe('blocking across threads', () => {
  it('a worker blocked in receive() is woken by a send from main', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 2);
    const peer = spawn(sys);
    peer.post({ cmd: 'recv', ch: ch.handle });
    await peer.next<{ waiting: boolean }>();
    await sleep(150);
    expect(peer.pending).toBe(0); // still blocked: nothing to receive
    const f = sys.allocFrame();
    f.bytes()[0] = 0x42;
    const paddr = f.paddr;
    expect(ch.send(f)).toBe(true);
    const r = await peer.next<{ paddr: number | null; byte: number; count: number }>();
    expect(r).toEqual(expect.objectContaining({ paddr, byte: 0x42, count: 1 }));
    expect(ch.size).toBe(0);
    ch.close();
    await peer.ask({ cmd: 'close' });
    expectAllFree(sys);
  });

  it('a receiver that refuses a frame (WrongType) leaves it queued for a receiver that takes it', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 2);
    const picky = spawn(sys); // receive(OtherMeta)
    picky.post({ cmd: 'recv', ch: ch.handle, other: true });
    await picky.next();
    await sleep(150); // most often asleep first, so woken first
    const any = spawn(sys); // receive() of any frame
    any.post({ cmd: 'recv', ch: ch.handle });
    await any.next();
    await sleep(150);
    expect(picky.pending + any.pending).toBe(0); // both waiting
    const f = sys.allocFrame();
    f.bytes()[0] = 0x11;
    const paddr = f.paddr;
    ch.send(f);
    // Which of the two wakes first is the scheduler's choice (and waiters re-sleep every 100 ms,
    // which reorders them). If it is the picky one, it refuses with WrongType and passes the
    // wake-up on; either way the frame stays queued until the other takes it.
    const r = await any.next<{ paddr: number | null; byte: number }>(5000);
    expect(r).toEqual(expect.objectContaining({ paddr, byte: 0x11 }));
    expect(ch.size).toBe(0);
    // Then a frame of its type: the picky receiver takes it if it is still waiting; if it refused
    // the first frame it has answered WrongType and this one stays queued.
    const other = sys.allocFrame(OtherMeta, { v: 7 });
    const otherAt = other.paddr;
    ch.send(other);
    const answer = await picky.next<{ paddr: number | null }>(5000).catch((e: unknown) => e as Error);
    if (answer instanceof Error) {
      expect(answer.message).toMatch(/WrongType/);
      const left = ch.tryReceive(OtherMeta);
      expect(left?.paddr).toBe(otherAt);
      left?.drop();
    } else {
      expect(answer.paddr).toBe(otherAt);
    }
    ch.close();
    await Promise.all([picky, any].map((p) => p.ask({ cmd: 'close' })));
    expectAllFree(sys);
  });

  it('receive with a timeout in a worker returns null after about that time', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 2);
    const peer = spawn(sys);
    peer.post({ cmd: 'recv', ch: ch.handle, timeout: 100 });
    await peer.next();
    const r = await peer.next<{ paddr: number | null; elapsed: number }>();
    expect(r.paddr).toBeNull();
    expect(r.elapsed).toBeGreaterThanOrEqual(95);
    ch.close();
    await peer.ask({ cmd: 'close' });
    expectAllFree(sys);
  });

  it('a worker blocked in send() on a full channel is woken when main receives', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 1);
    const first = sys.allocFrame();
    const firstPaddr = first.paddr;
    ch.send(first);
    const peer = spawn(sys);
    peer.post({ cmd: 'send', ch: ch.handle, tag: 7 });
    const { paddr } = await peer.next<{ paddr: number }>();
    await sleep(150);
    expect(peer.pending).toBe(0); // still blocked: no room
    expect(ch.size).toBe(1);
    const a = ch.receive(undefined, 0)!;
    expect(a.paddr).toBe(firstPaddr);
    a.drop();
    expect(await peer.next<{ sent: boolean }>()).toEqual({ sent: true });
    const b = ch.receive(undefined, 10_000)!;
    expect(b.paddr).toBe(paddr);
    expect(words(b)[0] & 0xff).toBe(7);
    b.drop();
    ch.close();
    await peer.ask({ cmd: 'close' });
    expectAllFree(sys);
  });

  it('several workers blocked on one channel: every frame is received exactly once', async () => {
    const W = 2;
    const M = 300;
    const sys = FrameSystem.create({ frames: 256 });
    const ch = FrameChannel.create(sys, 4); // small: main blocks in send too
    const workers = Array.from({ length: W }, () => spawn(sys));
    for (const p of workers) p.post({ cmd: 'recvMany', ch: ch.handle });
    await Promise.all(workers.map((p) => p.next()));
    for (let i = 0; i < M; i++) {
      const f = sys.allocFrame();
      words(f)[0] = i + 1;
      expect(ch.send(f, 10_000)).toBe(true);
    }
    for (let i = 0; i < W; i++) expect(ch.send(sys.allocFrame(EndMeta, { from: 99 }), 10_000)).toBe(true);
    const results = await Promise.all(workers.map((p) => p.next<{ seqs: number[]; errors: string[] }>()));
    for (const r of results) expect(r.errors).toEqual([]);
    const all = results.flatMap((r) => r.seqs).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: M }, (_, i) => i + 1));
    for (const r of results) {
      // Each worker's share arrived in the order sent.
      expect(r.seqs).toEqual([...r.seqs].sort((a, b) => a - b));
    }
    expect(ch.size).toBe(0);
    ch.close();
    await Promise.all(workers.map((p) => p.ask({ cmd: 'close' })));
    expectAllFree(sys);
  });
});

describe('receiveAsync in a worker', () => {
  it('keeps the event loop running while waiting, and gets the frame when main sends', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 2);
    const peer = spawn(sys);
    peer.post({ cmd: 'recvAsync', ch: ch.handle });
    await peer.next();
    for (let k = 1; k <= 3; k++) {
      expect(await peer.ask<{ pong: number }>({ cmd: 'ping', k }, 5000)).toEqual({ pong: k });
    }
    await sleep(50);
    expect(peer.pending).toBe(0); // nothing sent: still waiting
    const f = sys.allocFrame();
    f.bytes()[0] = 0x24;
    const paddr = f.paddr;
    ch.send(f);
    const r = await peer.next<{ paddr: number | null; byte: number; pongsWhileWaiting: number }>();
    expect(r).toEqual(expect.objectContaining({ paddr, byte: 0x24, pongsWhileWaiting: 3 }));
    ch.close();
    await peer.ask({ cmd: 'close' });
    expectAllFree(sys);
  });

  it('resolves null after its timeout in a worker, answering pings meanwhile', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 2);
    const peer = spawn(sys);
    // Long enough that the ping below is answered before it, even on a loaded machine.
    peer.post({ cmd: 'recvAsync', ch: ch.handle, timeout: 3000 });
    await peer.next();
    expect(await peer.ask<{ pong: number }>({ cmd: 'ping', k: 1 }, 5000)).toEqual({ pong: 1 });
    const r = await peer.next<{ paddr: number | null; elapsed: number; pongsWhileWaiting: number }>();
    expect(r.paddr).toBeNull();
    expect(r.elapsed).toBeGreaterThanOrEqual(2995);
    expect(r.pongsWhileWaiting).toBe(1);
    ch.close();
    await peer.ask({ cmd: 'close' });
    expectAllFree(sys);
  });
});

describe('a worker that dies holding a channel\'s lock', () => {
  /**
   * A worker stops inside trySend while it holds the channel's lock and is terminated there;
   * main reclaims its id (as a pool does on 'exit'). Returns the dead worker's id and the frame
   * it was sending: that and its reference to the channel stay held (reclaimWorker cannot know
   * them); main takes them back with fromRaw at the end, as reclaimWorker's docs say.
   */
  async function killInSend(sys: FrameSystem, ch: FrameChannel): Promise<{ deadId: number; paddr: number }> {
    const dying = spawn(sys);
    dying.post({ cmd: 'dieInSend', ch: ch.handle });
    const { workerId: deadId, paddr } = await dying.next<{ workerId: number; paddr: number }>();
    await dying.worker.terminate();
    sys.reclaimWorker(deadId);
    expect(sys.workers()).not.toContain(deadId);
    return { deadId, paddr };
  }

  /** Main takes back what is left and checks that everything is free. */
  async function cleanUp(sys: FrameSystem, ch: FrameChannel, paddr: number, tags: number[]): Promise<void> {
    for (const tag of tags) {
      const f = ch.receive(undefined, 0)!;
      expect(words(f)[0] & 0xff).toBe(tag);
      f.drop();
    }
    expect(ch.size).toBe(0);
    // The dead worker's references, known to no one but the test: its frame and its channel.
    Frame.fromRaw(sys, paddr).drop();
    Frame.fromRaw(sys, ch.handle.paddr).drop();
    ch.close();
    expectAllFree(sys);
  }

  it('a worker attached before the death takes the lock over after reclaimWorker', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 4);
    const other = spawn(sys); // attached now: id 2
    expect((await other.ask<{ workerId: number }>({ cmd: 'id' })).workerId).toBe(2);
    const { deadId, paddr } = await killInSend(sys, ch);
    expect(deadId).toBe(3);
    const r = await other.ask<{ sent: boolean }>({ cmd: 'trySendOne', ch: ch.handle, tag: 5 }, 5000);
    expect(r.sent).toBe(true);
    await other.ask({ cmd: 'close' });
    await cleanUp(sys, ch, paddr, [5]);
  });

  it('checked mode: a receiver killed while making the handle for the head entry leaves it to the next receiver', async () => {
    const sys = FrameSystem.create({ frames: 64, checked: true });
    const ch = FrameChannel.create(sys, 4);
    const channelFrames = sys.stats().used;
    const f = sys.allocFrame();
    f.bytes()[0] = 0x5a;
    const paddr = f.paddr;
    expect(ch.send(f)).toBe(true);
    const dying = spawn(sys);
    dying.post({ cmd: 'dieInReceive', ch: ch.handle });
    const { workerId: deadId } = await dying.next<{ workerId: number }>();
    await dying.worker.terminate();
    sys.reclaimWorker(deadId);
    // The entry is still queued with its forgotten reference: the next receive takes it (had
    // the dead receiver taken the reference's record before the head moved, it would be
    // ContractError('from_raw_requires') for every receiver from now on).
    expect(ch.size).toBe(1);
    const got = ch.receive(undefined, 5000)!;
    expect(got.paddr).toBe(paddr);
    expect(got.bytes()[0]).toBe(0x5a);
    got.drop();
    sys.checkInvariants();
    ch.close();
    // What is left is the channel's queue, which the dead worker's reference keeps (in checked
    // mode no one may take back a reference that was never forgotten).
    expect(sys.stats().used).toBe(channelFrames);
  });

  it('a worker that attaches after the reclaim, and gets the dead id again, is not locked out', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 4);
    const { deadId, paddr } = await killInSend(sys, ch);
    const replacement = spawn(sys); // a pool replacing the dead worker
    expect((await replacement.ask<{ workerId: number }>({ cmd: 'id' })).workerId).toBe(deadId);
    // The dead worker's lock must not pass for the live replacement's: no deadlock (docs/design.md,
    // "When a worker dies": a worker may die at any instruction, and no other worker deadlocks).
    const r = await replacement.ask<{ sent: boolean }>({ cmd: 'trySendOne', ch: ch.handle, tag: 6 }, 5000);
    expect(r.sent).toBe(true);
    await replacement.ask({ cmd: 'close' });
    await cleanUp(sys, ch, paddr, [6]);
  });
});

describe('NoMemory only when memory is gone', () => {
  it('three workers churn single frames, 20 held at most each (60 of 64): no allocation ever fails, however the free frames sit in the others\' caches', async () => {
    for (const checked of [false, true]) {
      const sys = FrameSystem.create({ frames: 64, checked });
      const workers = [1, 2, 3].map(
        (k) =>
          new Worker(new URL('./workers/steal-churn.worker.js', import.meta.url), {
            workerData: { handle: sys.handle, limit: 20, iterations: checked ? 20_000 : 100_000, seed: k * 7919 + (checked ? 1 : 0) },
          }),
      );
      try {
        const results = await Promise.all(
          workers.map(
            (w) =>
              new Promise<{ noMemory: number; allocs: number }>((resolve, reject) => {
                w.once('message', resolve);
                w.once('error', reject);
              }),
          ),
        );
        for (const r of results) expect(r).toEqual(expect.objectContaining({ noMemory: 0 }));
        expect(results.reduce((n, r) => n + r.allocs, 0)).toBeGreaterThan(0);
        sys.checkInvariants(); // the workers idle, their caches as they left them
        expect(sys.stats()).toEqual(expect.objectContaining({ free: 64, used: 0 }));
        await Promise.all(
          workers.map((w) => {
            const closed = new Promise((resolve) => w.once('message', resolve));
            w.postMessage('close');
            return closed;
          }),
        );
        expectAllFree(sys);
      } finally {
        await Promise.all(workers.map((w) => w.terminate()));
      }
    }
  });
});
