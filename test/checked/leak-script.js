// Run by test/checked/leaks.test.ts as `node --expose-gc`: makes handles that are never dropped,
// lets the garbage collector take them, and prints what checked mode reported.
import { FrameSystem, defineMeta } from '../../dist/index.js';

const Tagged = defineMeta('test.leaks.tagged', { n: 'u32' });
const sys = FrameSystem.create({ frames: 16, checked: true });
/** @type {unknown[]} */
const seen = [];
const unchecked = FrameSystem.create({ frames: 16 });
const light = FrameSystem.create({ frames: 16, checked: true, leakStacks: false });
const many = FrameSystem.create({ frames: 1024, checked: true });

/** Allocates and forgets to drop: the leak the detector should name. */
function leakSomeFrames() {
  const a = sys.allocFrame(Tagged, { n: 1 });
  const b = sys.allocSegment(3);
  unchecked.allocFrame(); // unchecked mode tracks nothing
  light.allocFrame(); // reported, without a stack
  return [a.paddr, b.startPaddr];
}

/** Drops what it makes: must not be reported. */
function dropEverything() {
  sys.allocFrame().drop();
  const f = sys.allocFrame(Tagged);
  const raw = f.intoRaw(); // consumed: its reference lives in the address, not a leak
  return raw;
}

/**
 * Makes more handles than the tracker lists before it registers them, drops all but one, out of
 * order (first made, first dropped), and one that was registered meanwhile: only the one left is
 * a leak.
 */
function leakOneOfMany() {
  const early = many.allocFrame(); // registered once the list fills up, dropped after
  const frames = Array.from({ length: 600 }, () => many.allocFrame());
  const kept = frames.splice(300, 1)[0];
  for (const f of frames) f.drop();
  const copy = early.clone();
  early.drop();
  copy.drop();
  return kept.paddr;
}

const leaked = leakSomeFrames();
const leakedOfMany = leakOneOfMany();
const forgotten = dropEverything();
const gc = /** @type {() => void} */ (globalThis.gc);
for (let i = 0; i < 20 && (sys.leaks().length < 2 || light.leaks().length < 1 || many.leaks().length < 1); i++) {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 10));
}
seen.push(...sys.leaks());
console.log(JSON.stringify({ leaked, forgotten, reports: seen, unchecked: unchecked.leaks().length, light: light.leaks(), leakedOfMany, many: many.leaks(), stats: sys.stats() }));
