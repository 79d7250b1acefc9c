/**
 * FrameChannel for services: producers that never hang (`sendAsync`) with real workers.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { FrameChannel, FrameSystem, FrameUseError } from '../../src/index.js';
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
    await Promise.all(consumers.map((w) => (w.threadId >= 0 ? once(w, 'exit') : Promise.resolve())));
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
    expect(ticks).toBeGreaterThan(3); // the event loop kept running while it waited
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
