/**
 * FrameChannel for services: producers that never hang (`sendAsync`) with real workers.
 */
import { once } from 'node:events';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Frame, FrameChannel, FrameSystem, FrameUseError, PAGE_SIZE, Segment, defineMeta } from '../../src/index.js';
import { expectAllFree } from '../helpers.js';

describe('sendAsync', () => {
  it('a producer on the main thread whose consumers all fail sees their errors and stops, within a bound', async () => {
    const sys = FrameSystem.create({ frames: 64 });
    const ch = FrameChannel.create(sys, 2);
    const consumers = [1, 2].map(
      () => new Worker(new URL('./throwing-consumer.worker.js', import.meta.url), { workerData: { handle: sys.handle, channel: ch.handle } }),
    );
    for (const w of consumers) sys.watch(w); // their records come back when they exit
    let failed = 0;
    for (const w of consumers) w.on('error', () => failed++);
    // (Deno leaves threadId as it was after the exit, where Node sets it to -1: listen from the start.)
    const exited = consumers.map((w) => new Promise((resolve) => w.once('exit', resolve)));
    await Promise.all(consumers.map((w) => once(w, 'message')));
    const start = performance.now();
    let sent = 0;
    while (failed < consumers.length) {
      const frame = sys.allocFrame();
      if (await ch.sendAsync(frame, 50)) sent++;
      else frame.drop(); // still ours: the queue stayed full
      expect(performance.now() - start).toBeLessThan(5000);
    }
    expect(sent).toBeGreaterThanOrEqual(2); // each consumer took one; the queue then filled up
    // Both consumers died holding a frame each, and their reference to the channel's ring
    // (handles die with their thread, by design): 2 frames + the ring stay in use.
    await Promise.all(exited);
    for (let f = ch.tryReceive(); f !== null; f = ch.tryReceive()) f.drop();
    ch.close();
    expect(sys.workers()).toEqual([1]);
    expect(sys.stats()).toEqual(expect.objectContaining({ used: 3, busy: 0 }));
    sys.checkInvariants();
  });

  it('resolves true once there is room, false at its timeout (the frame still the caller\'s), never blocking the thread', async () => {
    const sys = FrameSystem.create({ frames: 16 });
    const ch = FrameChannel.create(sys, 1);
    expect(await ch.sendAsync(sys.allocFrame())).toBe(true);
    const extra = sys.allocFrame();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const t0 = performance.now();
    expect(await ch.sendAsync(extra, 30)).toBe(false);
    const took = performance.now() - t0;
    clearInterval(timer);
    expect(took).toBeGreaterThanOrEqual(25);
    expect(ticks).toBeGreaterThan(0); // the event loop ran while it waited (a blocking wait leaves 0; under load a 1 ms timer may fire only a few times)
    expect(extra.referenceCount).toBe(1);
    setTimeout(() => ch.tryReceive()?.drop(), 5);
    expect(await ch.sendAsync(extra, 2000)).toBe(true);
    ch.tryReceive()?.drop();
    ch.close();
    expectAllFree(sys);
  });

  it('rejects with typed errors: a bad timeout, a closed channel (also while waiting), a dropped handle', async () => {
    const sys = FrameSystem.create({ frames: 16 });
    const ch = FrameChannel.create(sys, 1);
    const f = sys.allocFrame();
    await expect(ch.sendAsync(f, NaN)).rejects.toMatchObject({ code: 'BadValue' });
    await expect(ch.sendAsync(f, -1)).rejects.toBeInstanceOf(FrameUseError);
    ch.send(sys.allocFrame()); // full
    const other = FrameChannel.open(sys, ch.handle);
    const waiting = ch.sendAsync(f, 5000);
    setTimeout(() => ch.close(), 5);
    await expect(waiting).rejects.toMatchObject({ code: 'Closed' });
    expect(f.referenceCount).toBe(1); // untouched
    other.tryReceive()?.drop();
    f.drop();
    await expect(other.sendAsync(f)).rejects.toMatchObject({ code: 'Dropped' });
    other.close();
    expectAllFree(sys);
  });
});

describe.each([{ checked: false }, { checked: true }])('end of stream (checked: $checked)', ({ checked }) => {
  it('queued items are still delivered, then receive returns null at once and sends are Closed, for every worker', async () => {
    const sys = FrameSystem.create({ frames: 32, checked });
    const ch = FrameChannel.create(sys, 4);
    const view = FrameChannel.open(FrameSystem.attach(sys.handle, { separate: true }), ch.handle); // another worker's object
    const a = sys.allocFrame();
    const pa = a.paddr;
    ch.send(a);
    ch.send(sys.allocSegment(2));
    expect(view.ended).toBe(false);
    view.end(); // from the other worker
    view.end(); // idempotent
    expect(ch.ended).toBe(true);
    const late = sys.allocFrame();
    for (const send of [() => ch.send(late), () => ch.trySend(late), () => ch.send(late, 5)]) {
      expect(send).toThrow(expect.objectContaining({ code: 'Closed' }));
    }
    await expect(ch.sendAsync(late)).rejects.toMatchObject({ code: 'Closed' });
    expect(late.referenceCount).toBe(1); // untouched
    late.drop();
    const first = ch.receive();
    expect(first?.paddr).toBe(pa);
    first?.drop();
    ch.receiveSegment()?.drop();
    const t0 = performance.now();
    expect(ch.receive()).toBeNull(); // no timeout given: null at once, the stream is over
    expect(ch.receiveSegment(undefined, Infinity)).toBeNull();
    expect(await ch.receiveAsync()).toBeNull();
    expect(ch.tryReceive()).toBeNull();
    expect(performance.now() - t0).toBeLessThan(500);
    view.close();
    ch.close();
    expectAllFree(sys);
  });

  it('for await yields every item as it was sent (Frame or Segment), in order, and ends at end()', async () => {
    const sys = FrameSystem.create({ frames: 32, checked });
    const ch = FrameChannel.create(sys, 2);
    const sent: string[] = [];
    const producer = (async () => {
      for (let k = 0; k < 6; k++) {
        const item = k % 2 === 0 ? sys.allocFrame() : sys.allocSegment(k);
        sent.push(item instanceof Segment ? `s${item.nframes}` : 'f');
        expect(await ch.sendAsync(item)).toBe(true); // back-pressure: 2 in flight at most
        expect(ch.size).toBeLessThanOrEqual(2);
      }
      ch.end();
    })();
    const got: string[] = [];
    for await (const item of ch) {
      got.push(item instanceof Segment ? `s${item.nframes}` : 'f');
      item.drop();
    }
    await producer;
    expect(got).toEqual(sent);
    ch.close();
    expectAllFree(sys);
  });
});

describe('end of stream with real workers', () => {
  it.each([
    ['while it spins', 0],
    ['once it sleeps', 50],
  ])('a worker blocked in receive() with no timeout is woken by end() (%s) and gets null within 50 ms, not a sleep later (F5)', async (_when, delay) => {
    // One attempt: the time from end() to the worker's null. A machine under load may delay a
    // correct wake-up past 50 ms now and then, but the bug (F5) delays every one by its 100 ms
    // sleep: the test passes on the first of three attempts under 50 ms.
    const attempt = async (): Promise<number> => {
      const sys = FrameSystem.create({ frames: 16 });
      const ch = FrameChannel.create(sys, 2);
      const worker = new Worker(
        `const { parentPort, workerData } = require('node:worker_threads');
         import(workerData.dist).then(({ FrameChannel, FrameSystem }) => {
           const sys = FrameSystem.attach(workerData.handle);
           const ch = FrameChannel.open(sys, workerData.channel);
           parentPort.postMessage('waiting');
           const t0 = performance.now();
           const item = ch.receive(); // blocks: no timeout
           parentPort.postMessage({ item: item === null ? null : item.paddr, waited: performance.now() - t0 });
           ch.close();
           sys.close();
         });`,
        { eval: true, workerData: { handle: sys.handle, channel: ch.handle, dist: new URL('../../dist/index.js', import.meta.url).href } },
      );
      // Every message and the exit are recorded from the start: no event can pass unseen between
      // two awaits, and each wait is bounded (a failure says what was seen).
      const messages: unknown[] = [];
      let exited = false;
      worker.on('message', (m: unknown) => messages.push(m));
      worker.on('exit', () => (exited = true));
      const waitFor = async (cond: () => boolean, what: string): Promise<void> => {
        const deadline = performance.now() + 10_000;
        while (!cond()) {
          if (performance.now() > deadline) throw new Error(`${what}: not within 10 s (messages: ${JSON.stringify(messages)}, exited: ${exited})`);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      };
      let elapsed: number;
      try {
        await waitFor(() => messages.length >= 1, 'the worker waiting');
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay)); // let it fall asleep
        expect(messages).toEqual(['waiting']); // still blocked in receive()
        const t0 = performance.now();
        ch.end();
        await waitFor(() => messages.length >= 2, 'the answer after end()');
        elapsed = performance.now() - t0;
        expect((messages[1] as { item: number | null }).item).toBeNull();
        await waitFor(() => exited, 'the worker exiting');
      } finally {
        await worker.terminate();
      }
      ch.close();
      expectAllFree(sys);
      return elapsed;
    };
    const times: number[] = [];
    for (let k = 0; k < 3 && !(times.at(-1)! < 50); k++) times.push(await attempt());
    expect(Math.min(...times), `end() to null, ms, per attempt: ${times.map((t) => t.toFixed(1)).join(', ')}`).toBeLessThan(50); // before the fix of F5: a 100 ms sleep
  });
});

describe('streams', () => {
  it('a file piped into frames through a channel to a worker and back, transformed in place; back-pressure bounds the frames in flight', async () => {
    const sys = FrameSystem.create({ frames: 256 });
    const CAP = 4;
    const out = FrameChannel.create(sys, CAP);
    const back = FrameChannel.create(sys, CAP);
    const data = new Uint8Array(2 * 1024 * 1024 + 123); // 514 frames' worth: twice the region
    for (let i = 0, x = 1; i < data.length; i++) data[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    const dir = mkdtempSync(join(tmpdir(), 'pageframe-stream-'));
    const path = join(dir, 'input.bin');
    writeFileSync(path, data);
    const worker = new Worker(
      `const { workerData } = require('node:worker_threads');
       import(workerData.dist).then(async ({ FrameChannel, FrameSystem, defineMeta }) => {
         const Chunk = defineMeta('test.stream.chunk', { length: 'u32' }, { untyped: true });
         const sys = FrameSystem.attach(workerData.handle);
         const out = FrameChannel.open(sys, workerData.out);
         const back = FrameChannel.open(sys, workerData.back);
         await out.readable(Chunk)
           .pipeThrough(new TransformStream({ transform(frame, c) { const b = frame.bytes(); for (let i = 0; i < frame.meta.length; i++) b[i] ^= 0x5a; c.enqueue(frame); } }))
           .pipeTo(back.writable()); // ends 'back' when 'out' ends
         out.close(); back.close(); sys.close();
       });`,
      { eval: true, workerData: { handle: sys.handle, out: out.handle, back: back.handle, dist: new URL('../../dist/index.js', import.meta.url).href } },
    );
    const exited = once(worker, 'exit'); // listened for first: it may exit before the reads below end
    sys.watch(worker);
    let maxUsed = 0;
    const sampler = setInterval(() => (maxUsed = Math.max(maxUsed, sys.stats().used)), 1);
    try {
      const toFrames = new TransformStream<Uint8Array, Frame<typeof Chunk>>({
        transform(chunk, c) {
          for (let off = 0; off < chunk.length; off += PAGE_SIZE) {
            const n = Math.min(PAGE_SIZE, chunk.length - off);
            const f = sys.allocFrame(Chunk, { length: n });
            f.bytes().set(chunk.subarray(off, off + n));
            c.enqueue(f);
          }
        },
      });
      const file = Readable.toWeb(createReadStream(path, { highWaterMark: 4 * PAGE_SIZE })) as unknown as ReadableStream<Uint8Array>;
      const sending = file.pipeThrough(toFrames).pipeTo(out.writable()); // ends 'out' at the end of the file
      const got = new Uint8Array(data.length);
      let at = 0;
      const reader = back.readable(Chunk).getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        const f = r.value as Frame<typeof Chunk>;
        got.set(f.bytes().subarray(0, f.meta.length), at);
        at += f.meta.length;
        f.drop();
      }
      await sending;
      expect(at).toBe(data.length);
      expect(got.every((v, i) => v === (data[i] ^ 0x5a))).toBe(true);
      // Two channels of 4, an item in each sink and transform, a file chunk (4 frames) being cut:
      // a bound of the pipeline's making, not of the file's 514 frames (the region has 256).
      expect(maxUsed).toBeLessThanOrEqual(2 * CAP + 12);
      await exited;
    } finally {
      clearInterval(sampler);
      await worker.terminate();
      rmSync(dir, { recursive: true, force: true });
    }
    out.close();
    back.close();
    expectAllFree(sys);
  }, 60_000);

  it('closing the writable ends the channel; a readable with a wrong type errors with WrongType, the item left queued', async () => {
    const sys = FrameSystem.create({ frames: 32 });
    const ch = FrameChannel.create(sys, 2);
    const writer = ch.writable().getWriter();
    await writer.write(sys.allocFrame());
    await writer.close();
    expect(ch.ended).toBe(true);
    const Other = defineMeta('test.stream.other', { v: 'u32' });
    await expect(ch.readable(Other).getReader().read()).rejects.toMatchObject({ code: 'WrongType' });
    expect(ch.size).toBe(1);
    const r = ch.readable().getReader();
    const first = await r.read();
    (first.value as Frame).drop();
    expect((await r.read()).done).toBe(true);
    ch.close();
    expectAllFree(sys);
  });
});

const Chunk = defineMeta('test.stream.chunk', { length: 'u32' }, { untyped: true });
