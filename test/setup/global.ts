/**
 * Global test setup. Services shared by all test files are started here once and described to the
 * files through `provide`.
 *
 * PostgreSQL: `TEST_DATABASE_URL` when set (its user needs CREATEDB), else ONE embedded PostgreSQL for
 * the whole run in a fresh folder under the system temp dir (fsync off), removed at teardown. Test
 * files get their own database from it with `freshDatabase()` (test/setup/db.ts).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/store/embedded.ts';
import { freePort } from '../support/ports.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of a database on the test PostgreSQL server (use `freshDatabase()` for your own). */
    pgUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env['TEST_DATABASE_URL'];
  if (given) {
    project.provide('pgUrl', given);
    return async () => {};
  }

  const started = Date.now();
  // mkdtemp makes a 0700 folder; PostgreSQL runs as `postgres` when we are root and must enter it.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'invoice-courier-test-pg-'));
  await fs.chmod(dir, 0o755);
  const port = await freePort();
  const server = await startEmbeddedPostgres({
    dataDir: path.join(dir, 'data'),
    port,
    database: 'invoice_courier_test',
    log: () => undefined, // the start error carries the server's last lines
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=500'],
  });
  console.log(`test database: embedded PostgreSQL on 127.0.0.1:${port} (${Date.now() - started} ms)`);
  project.provide('pgUrl', server.url);
  return async () => {
    await server.stop();
    await fs.rm(dir, { recursive: true, force: true });
  };
}
