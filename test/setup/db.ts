/** Per-file databases on the test PostgreSQL server started by test/setup/global.ts. */
import crypto from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** Creates a new, empty, uniquely named database on the test server and returns its URL. */
export async function freshDatabase(): Promise<string> {
  const base = inject('pgUrl');
  const name = `ic_test_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: base, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    // template0: never busy (CREATE DATABASE from template1 fails while anyone is connected to it).
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE template0 ENCODING 'UTF8'`);
  } finally {
    await client.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}
