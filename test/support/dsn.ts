/** Delivery-report fixtures (test/fixtures/dsn/*.eml) with `{MID}` replaced by the bounced message's Message-ID. */
import { readFileSync } from 'node:fs';

export const DSN_FIXTURES = ['postfix', 'exchange', 'gmail', 'delayed', 'autoreply'] as const;

export function dsnFixture(name: (typeof DSN_FIXTURES)[number], messageId: string): Buffer {
  return Buffer.from(readFileSync(new URL(`../fixtures/dsn/${name}.eml`, import.meta.url), 'latin1').replaceAll('{MID}', messageId), 'latin1');
}
