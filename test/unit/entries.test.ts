/**
 * The two process entries: src/main.ts is the connector as built and shipped, without the demo world
 * (sandbox/ is not part of the build), so it refuses DEMO=true instead of starting half a demo;
 * `npm start` runs sandbox/start.ts (test/e2e/demo.test.ts runs that one end to end).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');

describe('process entries', () => {
  it('src/main.ts with DEMO on (the default) exits 2 naming npm start and DEMO=false, before opening any database', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ic-main-'));
    try {
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: root,
        env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', DATA_DIR: dataDir },
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/npm start/);
      expect(r.stderr).toMatch(/DEMO=false/);
      expect(() => readFileSync(path.join(dataDir, 'secret-keys.json'))).toThrow();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('npm start runs sandbox/start.ts, and the build compiles src/ only', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['start']).toBe('tsx sandbox/start.ts');
    const build = JSON.parse(readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[]; compilerOptions: { rootDir: string } };
    expect(build.include).toEqual(['src']);
    expect(build.compilerOptions.rootDir).toBe('src');
  });
});
