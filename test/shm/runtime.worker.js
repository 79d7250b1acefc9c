// Worker threads for test/shm/probe.test.ts. Each role answers with one postMessage.
//
// - 'look': a worker that was handed a shared WebAssembly.Memory reads what the test's thread
//   wrote there with WebAssembly (as JS, and with an instance of its own), then writes with
//   WebAssembly for the test's thread to read: the property the WebAssembly probe stands for.
// - 'faulty': a thread whose runtime is made wrong in one way (`fault`, installed before
//   pageframe is loaded, so that its probes see it) runs pageframe with a second thread of the
//   same fault ('faulty-peer'): frames by address and through a channel, async waits, the
//   invariant. It reports what the probes found and what the regions run on.
import { Worker, parentPort as port, workerData } from 'node:worker_threads';

if (port === null) throw new Error('runtime.worker.js runs as a worker thread');
const parentPort = port;
const { role, fault } = workerData;

/**
 * Makes this thread's runtime wrong in the way `fault` names.
 * - 'wasm-copy': the memory another agent receives does not see WebAssembly's writes (what
 *   oven-sh/bun#25677 reports): a structured clone of a WebAssembly.Memory is a copy.
 * - 'no-shared-memory': no SharedArrayBuffer (a browser page that is not cross-origin isolated).
 * - 'waitAsync-missing': no Atomics.waitAsync (Firefox before 145).
 * - 'waitAsync-never': an Atomics.waitAsync whose waits never end and that parks nothing
 *   (denoland/deno#14786, #15358: waits that notify and timeouts do not end).
 * - 'waitAsync-overrun': the real Atomics.waitAsync for its first 3 calls (the probe's), then
 *   waits that never end.
 * @param {string} f
 */
function install(f) {
  if (f === 'wasm-copy') {
    const clone = globalThis.structuredClone;
    globalThis.structuredClone = (value, options) => {
      if (!(value instanceof WebAssembly.Memory)) return clone(value, options);
      const copy = new WebAssembly.Memory({ initial: value.buffer.byteLength / 65536, maximum: value.buffer.byteLength / 65536, shared: true });
      new Uint8Array(copy.buffer).set(new Uint8Array(value.buffer));
      return copy;
    };
  } else if (f === 'no-shared-memory') {
    Object.defineProperty(globalThis, 'SharedArrayBuffer', { value: undefined, configurable: true, writable: true });
  } else if (f === 'waitAsync-missing') {
    Object.defineProperty(Atomics, 'waitAsync', { value: undefined, configurable: true, writable: true });
  } else if (f === 'waitAsync-never') {
    /** @type {any} */ (Atomics).waitAsync = () => ({ async: true, value: new Promise(() => {}) });
  } else if (f === 'waitAsync-overrun') {
    const real = /** @type {(a: Int32Array, i: number, v: number, t?: number) => unknown} */ (Atomics.waitAsync);
    let calls = 0;
    /** @type {any} */ (Atomics).waitAsync = (/** @type {Int32Array} */ a, /** @type {number} */ i, /** @type {number} */ v, /** @type {number} */ t) =>
      ++calls <= 3 ? real(a, i, v, t) : { async: true, value: new Promise(() => {}) };
  } else {
    throw new Error(`unknown fault ${f}`);
  }
}

/**
 * What a region runs on: its atomics and whether it has the fast path (`_region` is internal,
 * not in the package's types).
 * @param {unknown} sys
 */
function runsOn(sys) {
  const r = /** @type {{ _region: { at: { kind: string }, fast: unknown } }} */ (sys)._region;
  return { atomics: r.at.kind, fast: r.fast !== undefined };
}

/** @param {unknown} e */
const describe = (e) => (e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e));

async function look() {
  const { assemble, compile, instantiate, Op, word } = await import('../../dist/shm/wasm.js');
  const module = compile(
    assemble([], [
      { name: 'load', params: 1, results: 1, body: [Op.localGet, 0, Op.i32Load, ...word()] },
      { name: 'store', params: 2, results: 0, body: [Op.localGet, 0, Op.localGet, 1, Op.i32Store, ...word()] },
    ]),
  );
  /** @type {{ memory: WebAssembly.Memory, words: number[], at: number, reply: number }} */
  const { memory, words, at, reply } = workerData;
  const ex = /** @type {any} */ (instantiate(module, memory, {}));
  const i32 = new Int32Array(memory.buffer);
  const js = words.map((_, k) => Atomics.load(i32, k));
  const wasm = words.map((_, k) => ex.load(4 * k));
  ex.store(at, reply);
  parentPort.postMessage({ js, wasm });
}

async function faulty() {
  install(fault);
  const { FrameSystem, FrameChannel, runtimeSupport } = await import('../../dist/index.js');
  const before = runtimeSupport();
  // A region in a WebAssembly.Memory of our own, and one in the memory create picks.
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 64, shared: true });
  const sys = FrameSystem.create({ frames: 64, memory });
  const picked = FrameSystem.create({ frames: 16 });
  const ch = FrameChannel.create(sys, 4);
  const back = FrameChannel.create(sys, 4);
  const peer = new Worker(new URL(import.meta.url), { workerData: { role: 'faulty-peer', fault, handle: sys.handle, ch: ch.handle, back: back.handle } });
  /** @type {string[]} */
  const peerErrors = [];
  peer.on('error', (e) => peerErrors.push(describe(e)));
  const peerSaw = await new Promise((resolve) => peer.once('message', resolve));

  // 1. By address: the peer reads every byte in place and answers through `back`, with a wait
  //    that must not block its thread (receiveAsync here; the peer's send comes ~20 ms later).
  const frame = sys.allocFrame();
  frame.fill(0xab);
  peer.postMessage({ cmd: 'take', paddr: frame.intoRaw() });
  const t0 = performance.now();
  const answer = await back.receiveAsync(undefined, 5000);
  const waitedMs = performance.now() - t0;
  const answerBytes = answer === null ? null : [answer.bytes()[0], answer.bytes()[4095]];
  answer?.drop();
  // 2. Through a channel, the other way: the peer waits in receiveAsync.
  const sent = sys.allocFrame();
  sent.fill(0x5c);
  peer.postMessage({ cmd: 'receive' });
  await new Promise((resolve) => setTimeout(resolve, 20));
  ch.send(sent);
  const peerReceived = await new Promise((resolve) => peer.once('message', resolve));
  // 3. sendAsync on a full channel: false at its timeout, the item still ours.
  const full = FrameChannel.create(sys, 1);
  full.send(sys.allocFrame());
  const extra = sys.allocFrame();
  const t1 = performance.now();
  const sendResult = await full.sendAsync(extra, 30);
  const sendMs = performance.now() - t1;
  extra.drop();
  full.close();

  peer.postMessage({ cmd: 'close' });
  await new Promise((resolve) => peer.once('message', resolve));
  await peer.terminate();
  ch.close();
  back.close();
  let invariant = null;
  try {
    sys.checkInvariants();
  } catch (e) {
    invariant = describe(e);
  }
  const result = {
    before,
    after: runtimeSupport(),
    own: runsOn(sys),
    picked: { wasmMemory: picked.handle.memory instanceof WebAssembly.Memory, ...runsOn(picked) },
    peerSaw,
    answerBytes,
    waitedMs,
    peerReceived,
    sendResult,
    sendMs,
    stats: sys.stats(),
    workers: sys.workers(),
    invariant,
    peerErrors,
  };
  picked.close();
  sys.close();
  parentPort.postMessage(result);
}

async function faultyPeer() {
  install(fault);
  const { FrameSystem, FrameChannel, Frame, runtimeSupport } = await import('../../dist/index.js');
  const sys = FrameSystem.attach(workerData.handle);
  const ch = FrameChannel.open(sys, workerData.ch);
  const back = FrameChannel.open(sys, workerData.back);
  parentPort.postMessage({ support: runtimeSupport(), ...runsOn(sys), workerId: sys.workerId });
  parentPort.on('message', async (msg) => {
    if (msg.cmd === 'take') {
      const f = Frame.fromRaw(sys, msg.paddr);
      const b = f.bytes();
      let ok = true;
      for (let k = 0; k < b.length; k++) if (b[k] !== 0xab) ok = false;
      b.fill(ok ? 0x11 : 0xee);
      setTimeout(() => back.send(f), 20); // the test's thread waits for it without blocking
    } else if (msg.cmd === 'receive') {
      const got = await ch.receiveAsync(undefined, 5000);
      parentPort.postMessage(got === null ? null : { first: got.bytes()[0], last: got.bytes()[4095] });
      got?.drop();
    } else if (msg.cmd === 'close') {
      ch.close();
      back.close();
      sys.close();
      parentPort.postMessage('closed'); // the test's thread ends this one
    }
  });
}

/** Without shared memory: what the probes say, and what create and attach throw. */
async function noSharedMemory() {
  const handle = workerData.handle; // a real region's handle, made by the test's thread
  install('no-shared-memory');
  const { FrameSystem, FrameSystemError, runtimeSupport } = await import('../../dist/index.js');
  /** @param {() => unknown} fn */
  const thrown = (fn) => {
    try {
      fn();
      return null;
    } catch (e) {
      return { isFrameSystemError: e instanceof FrameSystemError, name: /** @type {Error} */ (e).name, code: /** @type {{ code?: string }} */ (e).code, message: /** @type {Error} */ (e).message };
    }
  };
  parentPort.postMessage({
    support: runtimeSupport(),
    create: thrown(() => FrameSystem.create({ frames: 16 })),
    attach: thrown(() => FrameSystem.attach(handle)),
  });
}

try {
  if (role === 'look') await look();
  else if (role === 'no-shared-memory') await noSharedMemory();
  else if (role === 'faulty') await faulty();
  else if (role === 'faulty-peer') await faultyPeer();
  else throw new Error(`unknown role ${role}`);
} catch (e) {
  parentPort.postMessage({ error: describe(e) });
}
