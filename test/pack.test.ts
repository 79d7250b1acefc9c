/**
 * `npm pack` ships a built package even from a clone that was never built: `prepack` builds
 * `dist/` first (a tarball without it fails at install time with ERR_MODULE_NOT_FOUND). The
 * package's sources are copied to a temporary directory without `dist/`, and `npm pack --dry-run`
 * runs there, scripts and all. Nothing tracked is written.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('npm pack', () => {
  it('from a clone that was never built, the tarball holds dist/ (prepack builds it)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pageframe-pack-'));
    try {
      for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'src', 'bin']) {
        if (existsSync(join(ROOT, f))) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
      }
      symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
      expect(existsSync(join(dir, 'dist'))).toBe(false);
      const out = execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const files = (JSON.parse(out.slice(out.indexOf('['))) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
      expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'bin/pageframe.js', 'package.json']));
      expect(files.some((f) => f.startsWith('src/') || f.startsWith('test/'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
