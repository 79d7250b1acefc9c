/**
 * The Promela models of verify/ against the code: the constants they copy (count states, slot
 * words, journal kinds, lock tokens, channel header words, cache capacity) must be the code's,
 * the steps the code took to fix findings F1-F3 must be the ones the models take by default,
 * and every TypeScript function a model step names must still exist.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as limits from '../../src/base/limits.js';
import * as geometry from '../../src/region/geometry.js';
import * as journal from '../../src/region/journal.js';
import * as lists from '../../src/region/lists.js';
import * as meta from '../../src/region/meta.js';
import * as workers from '../../src/region/workers.js';
import { workerRecord, workerToken } from '../../src/region/workers.js';

/** The region's files whose constants the models copy, by the name the models give them. */
const regionFiles: Record<string, Record<string, unknown>> = {
  'region/geometry.ts': geometry,
  'region/journal.ts': journal,
  'region/lists.ts': lists,
  'region/meta.ts': meta,
  'region/workers.ts': workers,
};
const MIRROR = /(region\/[\w-]+\.ts) ([A-Z_][A-Z0-9_]*)(\[(\d+)\])?/;

const root = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const models = readdirSync(new URL('verify/', root)).filter((f) => f.endsWith('.pml'));

interface Define {
  readonly params: readonly string[] | undefined;
  readonly body: string;
  readonly comment: string;
}

/** The `#define`s of a model file (one a line; a trailing comment kept apart). */
function definesOf(text: string): Map<string, Define> {
  const out = new Map<string, Define>();
  for (const line of text.split('\n')) {
    const m = /^#define\s+(\w+)(\(([^)]*)\))?\s+(.*?)\s*(\/\*(.*?)\*\/)?\s*$/.exec(line);
    if (m === null) continue;
    const params = m[2] === undefined ? undefined : m[3].split(',').map((p) => p.trim());
    out.set(m[1], { params, body: m[4], comment: m[6]?.trim() ?? '' });
  }
  return out;
}

/** All `#define`s of the models: common.pml first, a model's own after. */
function allDefines(): Map<string, Define> {
  const out = definesOf(read('verify/common.pml'));
  for (const f of models) for (const [k, v] of definesOf(read(`verify/${f}`))) if (!out.has(k)) out.set(k, v);
  return out;
}

/** Evaluates a C integer expression of the model, expanding its object-like macros. */
function evaluate(expr: string, defs: Map<string, Define>, depth = 0): number {
  if (depth > 20) throw new Error(`macro expansion too deep in ${expr}`);
  const expanded = expr.replace(/\b[A-Za-z_]\w*\b/g, (name) => {
    const d = defs.get(name);
    if (d === undefined || d.params !== undefined) throw new Error(`cannot evaluate ${name} in ${expr}`);
    return `(${evaluate(d.body, defs, depth + 1)})`;
  });
  if (!/^[\d\s()+\-*<>|&^~xa-fA-F]*$/.test(expanded)) throw new Error(`not an integer expression: ${expanded}`);
  return Function(`"use strict"; return (${expanded});`)() as number;
}

/** The value of a model macro. */
function value(name: string, defs: Map<string, Define>): number {
  const d = defs.get(name);
  if (d === undefined) throw new Error(`the models define no ${name}`);
  return evaluate(d.body, defs);
}

/** Applies a function-like macro (e.g. TOKEN(gen, id)) to numbers. */
function apply(name: string, args: readonly number[], defs: Map<string, Define>): number {
  const d = defs.get(name);
  if (d?.params === undefined) throw new Error(`the models define no macro ${name}(...)`);
  let body = d.body;
  d.params.forEach((p, k) => {
    body = body.replace(new RegExp(`\\b${p}\\b`, 'g'), String(args[k]));
  });
  return evaluate(body, defs);
}

/**
 * The text of the top-level `function name` in `source` (up to the next top-level function), or
 * with `method` of the class method `name(` (up to the next member).
 */
function body(source: string, name: string, method = false): string {
  const start = source.search(new RegExp(method ? `\\n  (private )?${name}\\(` : `function ${name}\\b`));
  expect(start, `no function ${name}`).toBeGreaterThanOrEqual(0);
  const next = source.slice(start + 1).search(method ? /\n {2}(private |get |static )?\w+\(/ : /\n(export )?(async )?function /);
  return next < 0 ? source.slice(start) : source.slice(start, start + 1 + next);
}

/** Expects `parts` in `text` in that order. */
function order(text: string, parts: readonly string[]): void {
  let at = -1;
  for (const p of parts) {
    const k = text.indexOf(p, at + 1);
    expect(k, `${p} (after ${parts.slice(0, parts.indexOf(p)).join(', ') || 'the start'})`).toBeGreaterThan(at);
    at = k;
  }
}

describe('the models copy the words of src/region/', () => {
  const defs = allDefines();
  const mirrored = [...defs].filter(([, d]) => MIRROR.test(d.comment));

  it('every constant marked `region/FILE.ts NAME` has the value NAME has in that file', () => {
    for (const [name, d] of mirrored) {
      const m = MIRROR.exec(d.comment)!;
      const file = regionFiles[m[1]];
      expect(file, `${name}: the test does not know ${m[1]}`).toBeDefined();
      const c = file[m[2]] as number | readonly number[];
      const expected = m[4] === undefined ? c : (c as readonly number[])[Number(m[4])];
      expect(typeof expected, `${name}: ${m[1]} has no ${m[2]}`).toBe('number');
      expect(value(name, defs), `${name} (${d.comment})`).toBe(expected);
    }
  });

  it('the count states, slot words, journal kinds and worker states are all mirrored', () => {
    const names = new Set(mirrored.map(([, d]) => MIRROR.exec(d.comment)![2]));
    for (const n of [
      'RC_UNUSED', 'RC_UNIQUE', 'S_REF', 'S_TYPE', 'S_LIST', 'S_NEXT', 'S_PREV', 'S_OWNER', 'S_AUX', 'S_STORAGE',
      'AUX_FREE', 'AUX_HEAD', 'OP_OWNED', 'OP_DROP', 'OP_RAW', 'TOKEN_ID_BITS', 'WORKER_FREE', 'WORKER_ATTACHED',
      'CACHE_CAPACITY', 'LOP_LINK', 'LOP_UNLINK', 'L_FRONT', 'L_BACK', 'L_SIZE', 'L_MOD', 'LIST_WORDS',
    ]) {
      expect(names.has(n), `no model constant mirrors region/ ${n}`).toBe(true);
    }
  });

  it('the counts are the kernel states stored as Int32: UNUSED all ones, UNIQUE, busy 0', () => {
    expect(value('RC_UNUSED', defs)).toBe(limits.REF_COUNT_UNUSED | 0);
    expect(value('RC_UNIQUE', defs)).toBe(limits.REF_COUNT_UNIQUE | 0);
    expect(value('RC_BUSY', defs)).toBe(0);
    expect(new Set([value('RC_UNUSED', defs), value('RC_UNIQUE', defs), value('RC_BUSY', defs)]).size).toBe(3);
    // The model keeps the header words of a slot, S_REF..S_AUX, and folds the storage into S_TYPE.
    expect(value('SLOT_HDR', defs)).toBe(meta.S_STORAGE);
    expect(value('S_OWNER', defs)).toBe(value('S_PREV', defs));
  });

  it('a lock token is gen << TOKEN_ID_BITS | id, as workerToken computes it', () => {
    const i32 = new Int32Array(workerRecord(limits.MAX_WORKERS) + geometry.WORKER_WORDS);
    for (const [gen, id] of [[1, 1], [1, 2], [2, 3], [7, 64], [workers.GEN_MASK, 5]]) {
      i32[workerRecord(id) + workers.W_GEN] = gen;
      expect(apply('TOKEN', [gen, id], defs), `TOKEN(${gen}, ${id})`).toBe(workerToken(i32, id));
    }
    // Two generations of one id are different tokens, which is what the channel model relies on.
    expect(apply('TOKEN', [1, 3], defs)).not.toBe(apply('TOKEN', [2, 3], defs));
  });

  it('a cached head in the cache model is cachedHead(w, 1), as meta.ts encodes it', () => {
    for (const w of [1, 2, 3, 64, limits.MAX_WORKERS]) {
      const rc = apply('CACHED_HEAD', [w], defs);
      expect(rc, `CACHED_HEAD(${w})`).toBe(meta.cachedHead(w, 1));
      expect(meta.isCachedHead(rc) && meta.cachedWorker(rc) === w && meta.cachedRun(rc) === 1).toBe(true);
      expect([value('RC_UNUSED', defs), value('RC_UNIQUE', defs), value('RC_BUSY', defs)]).not.toContain(rc);
    }
  });

  it('the cache model keeps the code refill and flush rules on a scaled-down capacity', () => {
    const cacheModel = read('verify/cache.pml');
    const cacheCode = read('src/frame-allocator/cache.ts');
    expect(cacheCode).toContain('const runs = CACHE_CAPACITY[k] >> 1;');
    expect(cacheCode).toContain('const flush = cap >> 1;');
    expect(cacheModel).toContain('cnt[me] = (CAP >> 1) - 1;');
    expect(cacheModel).toContain('cnt[me] = c - ((CAP >> 1) - 1);');
    const cap = value('CAP', defs);
    expect(cap).toBeGreaterThanOrEqual(2);
    expect(cap).toBeLessThanOrEqual(workers.CACHE_CAPACITY[1]);
  });
});

describe('the channel model copies the header of src/region/channel-ring.ts', () => {
  it('every C_* word of the model is the code one', () => {
    const code = read('src/region/channel-ring.ts');
    const defs = definesOf(read('verify/channel.pml'));
    const words = [...defs.keys()].filter((k) => /^C_[A-Z_]+$/.test(k) && k !== 'C_WORDS');
    expect(words.length).toBeGreaterThanOrEqual(7);
    for (const w of words) {
      const m = new RegExp(`const ${w} = (\\d+);`).exec(code);
      expect(m, `channel-ring.ts has no ${w}`).not.toBeNull();
      expect(value(w, defs), w).toBe(Number(m![1]));
    }
  });
});

describe('the models follow the code as fixed for findings F1-F3', () => {

  it('F1: decRef is a load + CAS loop that writes S_OWNER only on a count of 1, as slot.pml', () => {
    const code = body(read('src/region/meta.ts'), 'decRef');
    order(code, ['for (;;)', 'at.load(w)', 'if (old === 1) r.i32[w + S_OWNER]', 'at.cas(w, old, old - 1)']);
    const model = read('verify/slot.pml');
    order(model, ['decRef: Atomics.load', 'decRef: old < 1', 'decRef: old === 1: i32[w + S_OWNER]', 'decRef: Atomics.compareExchange(old, old - 1)']);
    expect(body(read('src/frame/meta.ts'), 'dropRef')).not.toContain('S_OWNER');
    expect(body(read('src/region/meta.ts'), 'dropShared')).not.toContain('S_OWNER');
  });

  it('F2: reclaim judges and frees the journaled frames, and frees the record, under the allocator lock, as cache.pml', () => {
    const source = read('src/workers/reclaim.ts');
    order(body(source, 'reclaim'), ['lockAllocatorWithin(sys._region, waitMs)', 'reclaimFramesLocked(', 'unlockAllocator(sys._region)']);
    const code = body(source, 'reclaimFramesLocked');
    order(code, ['reclaimJournaled(', 'buddy.freeRunsLocked(', 'reclaimRecord(']);
    order(body(read('src/region/workers.ts'), 'reclaimRecord'), ['i32[rec + k] = 0', 'Atomics.store(i32, rec + W_STATE, WORKER_FREE)']);
    expect(code).not.toMatch(/buddy\.freeRuns\(|unlock(Allocator)?\(/);
    const model = read('verify/cache.pml');
    order(model, ['reclaim: lockWithin(H_BUDDY_LOCK', 'reclaimJournaled: Atomics.load', 'freeRunsLocked(m, V)', 'reclaimRecord: Atomics.store(W_STATE, WORKER_FREE)', 'reclaim: unlock(H_BUDDY_LOCK)']);
  });

  it('F3: every wait of the channel sleeps at most MAX_SLEEP_MS, which channel.pml models as a timeout', () => {
    // The ring's words are slept on in region/channel-ring.ts only; channel.ts calls its sleeps.
    const code = read('src/region/channel-ring.ts');
    const api = read('src/workers/channel.ts');
    expect(code).toMatch(/const MAX_SLEEP_MS = \d+;/);
    const waits = [...code.matchAll(/\bsleepOn(?:Async)?\([^;]*;/g)].map((m) => m[0]);
    expect(waits.length).toBeGreaterThanOrEqual(2);
    for (const w of waits) expect(w).toContain('Math.min(left, MAX_SLEEP_MS)');
    for (const text of [code, api]) expect(text).not.toMatch(/Atomics\.wait(Async)?\(/); // every sleep goes through shm/wait.ts
    expect(api).not.toMatch(/\bsleepOn(Async)?\(/);
    const model = read('verify/channel.pml');
    expect(model).toContain('bit capped = 1;');
    expect(model).toContain('TIME_OUT(q)');
  });
});

describe('the list model follows the code of fail-fast cursors', () => {

  it('applyListOp bumps the count before its first link write and stores the size last; repairList redoes through it (list.pml, BROKEN_MOD_LAST)', () => {
    const code = read('src/region/lists.ts');
    order(body(code, 'applyListOp'), ['Atomics.store(i32, e + L_MOD', 'i32[xw + S_NEXT] = next', 'Atomics.store(i32, e + L_SIZE, size)']);
    order(body(code, 'repairList'), ['lockOwner(i32, at) !== deadToken', 'applyListOp(r, LOP_LINK', 'i32[j + J_KIND] = 0', 'forceRelease(i32, at, deadToken)']);
    order(body(code, 'journaled'), ['i32[j + J_KIND] = kind', 'applyListOp(', 'i32[j + J_KIND] = 0']);
    const model = read('verify/list.pml');
    order(model, ['applyListOp: Atomics.store(L_MOD, mod + 1)', 'applyListOp: i32[xw + S_NEXT] = next', 'applyListOp: Atomics.store(L_SIZE, size)']);
  });

  it('a cursor call takes the lock, then compares the count (begin), and records the count its own change left (list.pml, BROKEN_NO_MOD_CHECK)', () => {
    const code = read('src/frame/linked-list.ts');
    order(body(code, 'begin', true), ['this.list.enter()', 'listMod(this.r, this.index) !== this.expected', 'this.list.leave()', 'this.goStale()']);
    order(body(code, 'takeCurrent', true), ['this.begin()', 'listedNext(', 'this.list.take(f)', 'this.expected = listMod(', 'this.list.leave()']);
    order(body(code, 'insertBefore', true), ['this.begin()', 'this.list.insert(frame, this.cur)', 'this.expected = listMod(', 'this.list.leave()']);
    expect(code).not.toMatch(/holdsList|releaseLock/); // no cursor keeps the lock between calls
    const model = read('verify/list.pml');
    order(model, ['begin: list.enter()', 'begin: listMod(...) !== this.expected', 'begin: list.leave(); goStale()']);
  });
});

describe('every model step names a TypeScript function that exists', () => {
  // Every source file: a step may name a function wherever the layers put it.
  const sources = readdirSync(new URL('src/', root), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => read(`src/${f}`))
    .join('\n');
  const defined = (name: string): boolean =>
    new RegExp(`function\\s+${name}\\b|^\\s*(?:(?:export|static|private|protected|public|override|async)\\s+)*${name}\\s*(?:<[^>]*>)?\\(`, 'm').test(sources);

  for (const file of models.filter((f) => f !== 'common.pml')) {
    it(`${file}: the functions its comments name`, () => {
      const names = new Set<string>();
      for (const line of read(`verify/${file}`).split('\n')) {
        if (/^\s*(byte|bit|short|int|#define|\/?\*)/.test(line)) continue; // declarations, comment blocks
        for (const m of line.matchAll(/\/\*\s*([A-Za-z_][\w.]*)(?:\([^)]*\))?:\s/g)) {
          if (m[1].startsWith('Atomics.')) continue;
          const name = m[1].split('.').pop()!;
          if (/^[A-Z_]+$/.test(name)) continue; // BROKEN:
          names.add(name);
        }
      }
      expect(names.size).toBeGreaterThan(5);
      const missing = [...names].filter((n) => !defined(n));
      expect(missing, `${file} names functions the code no longer has`).toEqual([]);
    });
  }
});
