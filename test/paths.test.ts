/**
 * Every source file the documentation, the SPIN models and the source comments name exists: a
 * file that moves takes its mentions with it (the layers moved most of them once).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const root = new URL('../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const exists = (path: string): boolean => {
  try {
    readFileSync(new URL(path, root));
    return true;
  } catch {
    return false;
  }
};
const filesIn = (dir: string, ext: string): string[] =>
  readdirSync(new URL(dir, root), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(ext))
    .map((f) => `${dir}${f}`);

/** A path under src/, as prose writes it: `src/frame/frame.ts`, or `region/meta.ts` inside src/. */
const MENTION = /\b(?:src\/)?((?:base|shm|region|frame-allocator|checked|frame|workers|heap|map)\/[\w-]+\.ts)\b/g;

describe('paths named in the docs, the models and the comments', () => {
  const sources = [
    ...filesIn('docs/', '.md').filter((f) => !f.startsWith('docs/api/')),
    'README.md',
    'bench/README.md',
    ...filesIn('verify/', '.pml'),
    ...filesIn('src/', '.ts'),
  ];
  it.each(sources)('%s names only files that exist', (file) => {
    const missing = [...read(file).matchAll(MENTION)].map((m) => `src/${m[1]}`).filter((p) => !exists(p));
    expect([...new Set(missing)]).toEqual([]);
  });
});
