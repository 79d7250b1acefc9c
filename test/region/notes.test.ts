/**
 * Every function of the source that writes a shared word says why that is safe where it is made:
 * an `ORDER:` note (the happens-before edge it relies on) or an `OWNER:` note (why no other
 * worker writes the word then), in its doc comment or its body. A static check of the text: a
 * write is an assignment to `i32[...]`, an `Atomics` call that writes, a write through the
 * region's atomics (`at.store/cas/add/sub`), a byte copy into the region, or a fast-path call.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const src = new URL('../../src/', import.meta.url);
const WRITE =
  /\bi32\[[^\]]+\]\s*(?:[+\-|&^]?=)(?!=)|Atomics\.(?:store|add|sub|or|and|xor|exchange|compareExchange)\(|\bat\.(?:store|cas|add|sub)\(|\.u8\.set\(|\bfast\.\w+\(/;
/** A function's start: its doc comment (if any) and its name. */
const FUNCTION = /(?:\/\*\*(?:(?!\*\/)[\s\S])*?\*\/\s*)?(?:export )?(?:async )?function (\w+)/g;

/** The functions of a file that write a shared word and carry no note. */
function unexplained(text: string): string[] {
  const starts = [...text.matchAll(FUNCTION)].map((m) => ({ at: m.index, name: m[1] }));
  return starts
    .filter((s, i) => {
      const chunk = text.slice(s.at, i + 1 < starts.length ? starts[i + 1].at : text.length);
      const code = chunk.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
      return WRITE.test(code) && !/ORDER:|OWNER:/.test(chunk);
    })
    .map((s) => s.name);
}

const folders = ['region', 'shm', 'frame-allocator', 'checked', 'frame', 'workers'];

describe('every shared write says its ORDER or OWNER assumption', () => {
  for (const folder of folders) {
    const files = readdirSync(new URL(`${folder}/`, src)).filter((f) => f.endsWith('.ts'));
    it.each(files)(`src/${folder}/%s`, (file) => {
      expect(unexplained(readFileSync(new URL(`${folder}/${file}`, src), 'utf8'))).toEqual([]);
    });
  }

  it('the check sees a write without a note', () => {
    expect(unexplained('function f(r) {\n  r.i32[3] = 1;\n}\n')).toEqual(['f']);
    expect(unexplained('/** OWNER: this worker\'s. */\nfunction f(r) {\n  r.i32[3] = 1;\n}\n')).toEqual([]);
    expect(unexplained('function g(i32) {\n  Atomics.store(i32, 0, 1); // ORDER: last\n}\n')).toEqual([]);
    expect(unexplained('function h(i32) {\n  return i32[3] === 1;\n}\n')).toEqual([]);
  });
});
