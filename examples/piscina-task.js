// The task of examples/piscina.js, run by piscina's workers. The region is attached once per
// worker thread (module scope), not once per task.
import { workerData } from 'node:worker_threads';
import { Frame, FrameSystem, defineMeta } from 'pageframe';

const Samples = defineMeta('example.samples', { count: 'u32' }, { untyped: true });
const sys = FrameSystem.attach(workerData.handle);

/**
 * Squares the samples of the frame at `paddr` in place and returns their sum; drops the frame.
 * @param {{ paddr: number }} task
 */
export default function square({ paddr }) {
  const frame = Frame.fromRaw(sys, paddr, Samples); // takes over the reference the caller forgot
  const bytes = frame.bytes();
  const samples = new Float32Array(bytes.buffer, bytes.byteOffset, frame.meta.count);
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    samples[i] *= samples[i];
    sum += samples[i];
  }
  frame.drop(); // the last reference: back to this worker's cache, then the shared allocator
  return { sum };
}
