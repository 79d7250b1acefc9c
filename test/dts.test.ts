/**
 * The published types (`dist/**\/*.d.ts`, built by `npm run build` before the tests): no internal
 * `_` member ships (they are `@internal`, and `stripInternal` removes them), and what remains
 * type-checks on its own, library checks on (a stripped declaration still named elsewhere would
 * break it), without the DOM lib (test/pack.test.ts checks the same from an installed tarball).
 */
import { readFileSync, readdirSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const dist = new URL('../dist/', import.meta.url);
const files = readdirSync(dist, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.d.ts'));

describe('the published .d.ts', () => {
  it('exists (the package was built)', () => {
    expect(files).toContain('index.d.ts');
  });

  it('holds no `_` member: internals stay out of the published types', () => {
    const found: string[] = [];
    for (const f of files) {
      const text = readFileSync(new URL(f, dist), 'utf8');
      text.split('\n').forEach((line, k) => {
        // A member declaration: indented, optional modifiers, then a name starting with `_`.
        if (/^\s+(?:(?:readonly|private|protected|public|static|get|set|abstract)\s+)*_[A-Za-z$]\w*\s*[(:;?<]/.test(line)) {
          found.push(`${f}:${k + 1}: ${line.trim()}`);
        }
      });
    }
    expect(found).toEqual([]);
  });

  it('names Untyped in signatures (an interface), not the type it stands for', () => {
    const system = readFileSync(new URL('system.d.ts', dist), 'utf8');
    expect(system).toContain('allocFrame(): Frame<Untyped>;');
    expect(files.map((f) => readFileSync(new URL(f, dist), 'utf8')).join('\n')).not.toContain('MetaType<{}, true>');
  });

  it('type-checks by itself with library checks on', () => {
    const program = ts.createProgram([new URL('index.d.ts', dist).pathname], {
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'], // no DOM: the declarations must not need it
      types: ['node'], // a Node project's globals (ReadableStream, ...), as a consumer has them
    });
    const messages = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file === undefined || d.file.fileName.includes('/dist/'))
      .map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(messages).toEqual([]);
  });
});
