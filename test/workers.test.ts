/**
 * Real worker_threads on one region: attach, hand-off by address, deferred onDrop.
 * The worker script runs the built package (dist/), which `npm test` builds first.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { Frame, FrameSystem, defineMeta } from '../src/index.js';

const workers: Worker[] = [];

function spawn(sys: FrameSystem): Worker {
  const w = new Worker(new URL('./workers/peer.worker.js', import.meta.url), { workerData: { handle: sys.handle } });
  workers.push(w);
  return w;
}

async function ask<T>(w: Worker, msg: object): Promise<T> {
  w.postMessage(msg);
  const [answer] = (await once(w, 'message')) as [T & { error?: string }];
  if (answer.error !== undefined) throw new Error(answer.error);
  return answer;
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

describe('workers', () => {
  it('a worker attaches with its own id and takes a frame handed over by address', async () => {
    const sys = FrameSystem.create({ frames: 32 });
    const w = spawn(sys);
    expect((await ask<{ workerId: number }>(w, { cmd: 'id' })).workerId).toBe(2);
    expect(sys.workers()).toEqual([1, 2]);
    const f = sys.allocFrame();
    f.fill(2);
    const keep = f.clone();
    const { sum } = await ask<{ sum: number }>(w, { cmd: 'take', paddr: f.intoRaw() });
    expect(sum).toBe(2 * 4096);
    expect(keep.bytes()[0]).toBe(0x77); // the worker wrote in place
    expect(keep.referenceCount).toBe(1); // the worker dropped the reference it took over
    keep.drop();
    expect(sys.stats().free).toBe(32);
    await ask(w, { cmd: 'close' });
    expect(sys.workers()).toEqual([1]);
    sys.checkInvariants();
  });

  it('a last drop in a worker without the onDrop is deferred to a worker that has it', async () => {
    const sys = FrameSystem.create({ frames: 32 });
    // This worker knows the type, but not its onDrop.
    const Tagged = defineMeta('test.workers.tagged', { tag: 'u32' }, { untyped: true });
    const w = spawn(sys);
    const { paddr } = await ask<{ paddr: number }>(w, { cmd: 'allocTagged', tag: 9 });
    const f = Frame.fromRaw(sys, paddr, Tagged);
    expect(f.meta.tag).toBe(9);
    f.drop(); // the last drop: deferred, the frame is not lost nor freed without its onDrop
    expect(sys.stats()).toEqual(expect.objectContaining({ busy: 1, free: 31 }));
    sys.checkInvariants();
    expect(sys.drainDeferred()).toBe(0); // this worker cannot run it
    const { drained, dropped } = await ask<{ drained: number; dropped: unknown[] }>(w, { cmd: 'drain' });
    expect(drained).toBe(1);
    expect(dropped).toEqual([{ tag: 9, first: 9, worker: 2 }]);
    expect(sys.stats()).toEqual(expect.objectContaining({ busy: 0, free: 32 }));
    sys.checkInvariants();
  });
});
