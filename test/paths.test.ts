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

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
const slug = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\- _]/gu, '')
    .replace(/ /g, '-');
const anchorsOf = (path: string): Set<string> => new Set([...read(path).matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1])));

describe('links in the Markdown documents', () => {
  const documents = ['README.md', 'bench/README.md', ...filesIn('docs/', '.md').filter((f) => !f.startsWith('docs/api/'))];
  it.each(documents)('%s links only to files (and headings) inside the repository', (file) => {
    const text = read(file).replace(/```[\s\S]*?```/g, ''); // code blocks hold no links
    const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/') + 1) : '';
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^https?:\/\//.test(target)) continue;
      const [path, anchor] = target.split('#');
      const resolved = path === '' ? file : new URL(path, new URL(dir, root)).pathname.slice(new URL(root).pathname.length);
      if (resolved.startsWith('..') || resolved.startsWith('/') || !exists(resolved)) broken.push(`${target}: no file ${resolved} in the repository`);
      else if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) broken.push(`${target}: no heading #${anchor}`);
    }
    expect(broken).toEqual([]);
  });

  it('nothing in the project points outside it (a shared folder beside the clone, a local absolute path)', () => {
    const files = [...documents, 'package.json', 'typedoc.json', ...filesIn('src/', '.ts'), ...filesIn('test/', '.ts'), ...filesIn('bin/', '.js'), ...filesIn('bench/', '.js')];
    // The pattern is built from pieces so that this file does not match itself.
    const pointer = new RegExp(['\\.\\./shared/', '/wo' + 'rk/', '\\bDESIGN' + '\\.md\\b', '\\bARCHITECT' + 'URE\\b'].join('|'));
    const outside = files.filter((f) => pointer.test(read(f)));
    expect(outside).toEqual([]);
  });
});

describe('the API site (npm run docs: typedoc.json)', () => {
  it('has its own landing page, and renders every document of docs/ (and the READMEs) as a page', () => {
    const config = read('typedoc.json');
    expect(config).toMatch(/"readme": "docs\/site\.md"/);
    // The documents are @document tags of the entry point's module comment (see typedoc.json).
    const tagged = [...read('src/index.ts').matchAll(/@document \.\.\/(\S+)/g)].map((m) => m[1]).sort();
    const docs = filesIn('docs/', '.md').filter((f) => !f.startsWith('docs/api/') && f !== 'docs/site.md');
    expect(tagged).toEqual([...docs, 'README.md', 'bench/README.md'].sort());
    // Each has a title for the site's navigation (front matter), but the README, whose first lines are for people.
    for (const f of [...docs, 'bench/README.md']) expect(read(f), f).toMatch(/^---\ntitle: .+\n---\n/);
  });
});
