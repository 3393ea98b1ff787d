/**
 * The store contract against a real MongoDB, when one is given with MONGODB_URL (none can be installed
 * on the build machines; docs/decisions.md). Each suite run uses its own database, dropped after.
 */
import crypto from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { createMongoStore, dbNameFromUrl, mongoUrlWithDatabase } from '../../src/store/mongodb/index.ts';
import { storeContractSuite } from './contract.ts';

const url = process.env['MONGODB_URL'];
const dbName = `ic_test_${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`;

if (!url) console.log('store contract: mongodb SKIPPED (set MONGODB_URL to run it)');

describe.skipIf(!url)('mongodb', () => {
  storeContractSuite('mongodb', async () => ({
    store: createMongoStore({ url: url!, dbName }),
    async writeStoredSettings(installationId, settings, version) {
      const client = new MongoClient(url!, { serverSelectionTimeoutMS: 10_000 });
      try {
        const installations = client.db(dbName).collection<{ _id: string }>('installations');
        await installations.updateOne(
          { _id: installationId },
          version === null ? { $set: { settings }, $unset: { settingsVersion: '' } } : { $set: { settings, settingsVersion: version } },
        );
      } finally {
        await client.close();
      }
    },
  }));

  afterAll(async () => {
    const client = new MongoClient(url!, { serverSelectionTimeoutMS: 10_000 });
    try {
      await client.db(dbName).dropDatabase();
    } finally {
      await client.close();
    }
  });
});

describe('mongodb store without a server', () => {
  it('reads the database name from the URL path', () => {
    expect(dbNameFromUrl('mongodb://u:p@h1:27017,h2:27017/courier?replicaSet=rs0')).toBe('courier');
    expect(dbNameFromUrl('mongodb+srv://cluster.example.net/')).toBeNull();
    expect(dbNameFromUrl('mongodb://localhost')).toBeNull();
  });

  it('gives the scheduler a URL naming the store database when the configured one names none', () => {
    expect(mongoUrlWithDatabase('mongodb://localhost:27017', 'invoice_courier')).toBe('mongodb://localhost:27017/invoice_courier');
    expect(mongoUrlWithDatabase('mongodb://h1,h2/?replicaSet=rs0', 'invoice_courier')).toBe('mongodb://h1,h2/invoice_courier?replicaSet=rs0');
    expect(mongoUrlWithDatabase('mongodb://h/courier?w=1', 'invoice_courier')).toBe('mongodb://h/courier?w=1');
  });
});
