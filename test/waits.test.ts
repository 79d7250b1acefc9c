/**
 * docs/waits.md stays honest: every function of the source that waits (sleeps, naps, or takes a
 * lock) is named in its table, with its file, and every function the table names exists in the
 * file it says. A static check of the text, as test/region/notes.test.ts does for ORDER/OWNER
 * notes: functions and class methods are cut out of each file by their indentation (a module
 * function ends at the first `}` in column 0, a method at the first `}` in column 2).
 *
 * What waits, found from the primitives up: a function waits if its body calls `Atomics.wait`,
 * `Atomics.waitAsync` (or `waitAsync`), or a function that waits and whose name says that its
 * callers wait too: `lock*` (it returns holding a lock: the caller decides for how long),
 * `sleep*`, `nap*`, `await*`. So `shm/wait.ts`'s sleeps, `shm/lock.ts`'s locks, their wrappers
 * in `region/` (`lockAllocator`, `lockRing`, `sleepOnSent`, ...) and every caller of those are
 * found; a function that takes and releases a lock itself (`registerType`) is listed, its callers
 * are not (the wait is documented where the lock is taken).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const src = new URL('../src/', import.meta.url);
const doc = readFileSync(new URL('../docs/waits.md', import.meta.url), 'utf8');

/** A call that waits whatever its surroundings: the platform's waits. */
const PRIMITIVE = /Atomics\.wait(?:Async)?\(|(?<![\w$])waitAsync\(/;
/** Names whose callers wait too (see the module comment). */
const PROPAGATES = /^(?:lock|sleep|nap|await)/;

/** A function or method of a file, with its body (comments removed, the name's own `name(` cut). */
interface Fn {
  readonly name: string;
  readonly body: string;
}

/** The module functions (and arrow-function constants) and class methods of `text`. */
function functionsOf(text: string): Fn[] {
  const lines = text.split('\n');
  const out: Fn[] = [];
  let inClass = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^(?:export )?(?:default )?(?:abstract )?class \w+/.test(line)) {
      inClass = true;
      continue;
    }
    if (inClass && /^}/.test(line)) {
      inClass = false;
      continue;
    }
    const top =
      /^(?:export )?(?:async )?function\*? (\w+)/.exec(line) ?? /^(?:export )?const (\w+)\b[^=]*= (?:async )?(?:\([^)]*\)|\w+)(?::[^=]*)? =>/.exec(line);
    const method = top === null && inClass ? /^ {2}(?:(?:public|private|protected|static|async|override|get|set)\s+)*(\w+|\[[\w.]+\])\s*(?:<.*>)?\(/.exec(line) : null;
    const m = top ?? method;
    if (m === null || /^(?:if|for|while|switch|return|catch|function)$/.test(m[1])) continue;
    const end = top !== null ? /^}/ : /^ {2}}/;
    let j = i;
    const opens = (line.match(/{/g) ?? []).length;
    if (opens === 0 || opens !== (line.match(/}/g) ?? []).length) {
      if (line.trimEnd().endsWith(';')) continue; // a signature without a body
      for (j = i + 1; j < lines.length && !end.test(lines[j]); j++);
    }
    const chunk = lines.slice(i, j + 1).join('\n');
    const code = chunk
      .slice(chunk.indexOf('(') + 1) // the declaration's own name
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    out.push({ name: m[1], body: code });
    i = j;
  }
  return out;
}

/** `file: name` of every function of `files` (path → text) that waits, by the rule above. */
function waitingFunctions(files: ReadonlyMap<string, string>): string[] {
  const fns = [...files].flatMap(([file, text]) => functionsOf(text).map((f) => ({ file, ...f })));
  const propagating = new Set<string>();
  const waiting = new Set<string>();
  for (let changed = true; changed; ) {
    changed = false;
    const calls = propagating.size === 0 ? null : new RegExp(`(?<![\\w$])(?:${[...propagating].join('|')})\\(`);
    for (const f of fns) {
      const key = `${f.file}: ${f.name}`;
      if (waiting.has(key)) continue;
      if (PRIMITIVE.test(f.body) || (calls !== null && calls.test(f.body))) {
        waiting.add(key);
        changed = true;
        if (PROPAGATES.test(f.name)) propagating.add(f.name);
      }
    }
  }
  return [...waiting].sort();
}

/** The source files, by path under src/. */
function sources(): Map<string, string> {
  const files = readdirSync(src, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .sort();
  return new Map(files.map((f) => [f.replace(/\\/g, '/'), readFileSync(new URL(f, src), 'utf8')]));
}

/** The rows of the doc's tables: the backticked file and names of their first cell. */
function documented(): { file: string; names: string[] }[] {
  const rows: { file: string; names: string[] }[] = [];
  for (const line of doc.split('\n')) {
    const m = /^\| `([\w/-]+\.ts)` ([^|]*)\|/.exec(line);
    if (m === null) continue;
    rows.push({ file: m[1], names: [...m[2].matchAll(/`([\w[\].]+)`/g)].map((n) => n[1]) });
  }
  return rows;
}

describe('docs/waits.md names every wait of the source', () => {
  const files = sources();
  const waits = waitingFunctions(files);
  const rows = documented();

  it('finds the waits it is meant to find', () => {
    // A few that must be there, in each layer that waits: if one is missing, the parse broke.
    for (const w of [
      'shm/wait.ts: sleepOn',
      'shm/wait.ts: nap',
      'shm/lock.ts: lock',
      'region/free-lists.ts: lockAllocator',
      'region/channel-ring.ts: sleepOnSent',
      'frame-allocator/buddy.ts: allocJournaled',
      'frame-allocator/cache.ts: stealCaches',
      'workers/channel.ts: receiveAwaiting',
      'workers/reclaim.ts: reclaim',
    ]) {
      expect(waits).toContain(w);
    }
  });

  it.each(waits)('%s', (wait) => {
    const [file, name] = wait.split(': ');
    const row = rows.find((r) => r.file === file && r.names.includes(name));
    expect(row, `docs/waits.md has no table row for \`${file}\` \`${name}\`: document what it waits for, who ends the wait and its bound`).toBeDefined();
  });

  it('every function a row names exists in the file it names', () => {
    expect(rows.length).toBeGreaterThan(10);
    for (const { file, names } of rows) {
      const text = files.get(file);
      expect(text, `docs/waits.md names src/${file}, which does not exist`).toBeDefined();
      const defined = new Set(functionsOf(text!).map((f) => f.name));
      for (const name of names) expect(defined.has(name), `docs/waits.md names ${name} in src/${file}, which has no such function`).toBe(true);
    }
  });
});

describe('the check itself', () => {
  const one = (text: string): string[] => waitingFunctions(new Map([['x.ts', text]]));

  it('finds a direct wait, a wrapper named lock* and its caller, but not the callers of a function that releases its lock', () => {
    const text = [
      'function lock(i32, at, owner) {',
      '  while (Atomics.compareExchange(i32, at, 0, owner) !== 0) Atomics.wait(i32, at, owner, 1);',
      '}',
      '',
      'export function lockThing(r) {',
      '  lock(r.i32, 0, r.token);',
      '}',
      '',
      'export function grab(r) {',
      '  lockThing(r);',
      '  try {',
      '    work();',
      '  } finally {',
      '    unlock(r.i32, 0);',
      '  }',
      '}',
      '',
      'export function user(r) {',
      '  grab(r);',
      '}',
      '',
      'export function sleeper(i32) {',
      '  Atomics.wait(i32, 0, 0, 5); // sleeps',
      '}',
      '',
      'function quiet(i32) {',
      '  // lock(i32, 0, 1) in a comment is no call',
      '  return Atomics.load(i32, 0);',
      '}',
    ].join('\n');
    expect(one(text)).toEqual(['x.ts: grab', 'x.ts: lock', 'x.ts: lockThing', 'x.ts: sleeper']);
  });

  it('sees class methods, a multi-line signature and a method that waits through an await* method', () => {
    const text = [
      'function sleepOn(i32, at, seen, sleepers, ms) {',
      '  Atomics.wait(i32, at, seen, ms);',
      '}',
      '',
      'export class C {',
      '  private await(deadline: number): boolean {',
      '    sleepOn(this.i32, 0, 0, 1, 5);',
      '    return true;',
      '  }',
      '',
      '  receive<M extends AnyMeta>(',
      '    meta: M,',
      '  ): number {',
      '    return this.await(1) ? 1 : 0;',
      '  }',
      '',
      '  get size(): number {',
      '    return 0;',
      '  }',
      '}',
    ].join('\n');
    expect(one(text)).toEqual(['x.ts: await', 'x.ts: receive', 'x.ts: sleepOn']);
    expect(functionsOf(text).map((f) => f.name)).toEqual(['sleepOn', 'await', 'receive', 'size']);
  });
});
