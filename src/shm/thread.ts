/**
 * This thread's identity, as the platform names it: `worker_threads.threadId` where there is one
 * (Node, and runtimes that offer Node's modules: 0 on the main thread, then 1, 2, … for each
 * Worker a process starts), else a random id for this JavaScript realm (a page or a Web Worker:
 * they have no thread ids), at least 2^30 so that it never looks like a small Node id. A worker
 * record keeps it (`region/workers.ts`), so that the workers a thread attached can be found and
 * reclaimed when that thread exits (`FrameSystem.reclaimThread`, `FrameSystem.watch`).
 */

let cached: number | undefined;

/** This thread's id (see the module); computed once per realm. */
export function threadId(): number {
  if (cached !== undefined) return cached;
  let id: number | undefined;
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process;
    const wt = proc?.getBuiltinModule?.('node:worker_threads') as { threadId?: unknown } | undefined;
    if (typeof wt?.threadId === 'number' && Number.isSafeInteger(wt.threadId) && wt.threadId >= 0) id = wt.threadId;
  } catch {
    // not a runtime with Node's modules
  }
  if (id === undefined) {
    const r = new Uint32Array(1);
    globalThis.crypto.getRandomValues(r);
    id = 0x4000_0000 + (r[0] % 0x3fff_0000);
  }
  return (cached = id);
}
