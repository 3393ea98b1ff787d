/**
 * The `Installations` port's contract: create, read, list, update with optimistic concurrency, and the
 * settings read back validated and filled with defaults (src/settings/stored.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ConnectorError, isConnectorError } from '../../../src/errors.ts';
import { defaultSettings, type Settings } from '../../../src/settings/schema.ts';
import { SETTINGS_VERSION } from '../../../src/settings/stored.ts';
import type { Installations, NewInstallation, Store } from '../../../src/store/port.ts';
import { newInstallation, uid } from './fixtures.ts';

/**
 * Overwrites an installation's stored settings object and settings version behind the port's back;
 * `version` null: the row carries none (written before the settings version existed).
 */
export type StoredSettingsWriter = (installationId: string, settings: unknown, version: number | null) => Promise<void>;

/** Settings as a release from before the optional settings `alertEmail`, `stripProductCodes`, `attachKsefXml` and `schedule.days` stored them. */
function olderSettings(): Record<string, unknown> {
  const {
    alertEmail: _a,
    stripProductCodes: _s,
    attachKsefXml: _k,
    schedule,
    ...rest
  } = { ...defaultSettings(), enabled: true, fromDate: '2026-11-01', timezone: 'Europe/Berlin' };
  const { days: _d, ...olderSchedule } = schedule;
  return { ...rest, schedule: { ...olderSchedule, startAt: '07:30' } };
}

export function installationsContract(port: () => Store, writeStoredSettings: StoredSettingsWriter): void {
  describe('Installations', () => {
    let store: Installations;
    beforeAll(() => {
      store = port();
    });

    describe('installations', () => {
      it('a created installation is active, version 1, and reads back identically', async () => {
        const input = newInstallation({ callbackUrl: 'https://erp.example.pl/hook', webhookSecret: { keyId: 'k1', data: 'd2g=' } });
        const created = await store.createInstallation(input);
        expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(created.status).toBe('active');
        expect(created.version).toBe(1);
        expect(Number.isNaN(Date.parse(created.createdAt))).toBe(false);
        expect(created.settings).toEqual(input.settings);
        expect(created.integrationSecret).toEqual(input.integrationSecret);
        expect(created.webhookSecret).toEqual({ keyId: 'k1', data: 'd2g=' });
        expect(await store.getInstallation(created.id)).toEqual(created);
      });

      it('an installation may be created with a given id; a second one with the same id is a conflict', async () => {
        const id = uid();
        const created = await store.createInstallation(newInstallation({ id }));
        expect(created.id).toBe(id);
        const err = await store.createInstallation(newInstallation({ id })).catch((e: unknown) => e);
        expect(isConnectorError(err, 'conflict')).toBe(true);
      });

      it("an installation stored with the former host kind 'sandbox' (the demo's data from before) reads as 'odoo'", async () => {
        // 'sandbox' is no longer a kind; older versions stored it, as createInstallation still writes what it is given.
        const created = await store.createInstallation(newInstallation({ hostKind: 'sandbox' as NewInstallation['hostKind'] }));
        expect(created.hostKind).toBe('odoo');
        expect((await store.getInstallation(created.id))?.hostKind).toBe('odoo');
        expect((await store.listInstallations({ status: 'active' })).find((i) => i.id === created.id)?.hostKind).toBe('odoo');
      });

      it('an unknown id (also a non-UUID one) reads as null', async () => {
        expect(await store.getInstallation(uid())).toBeNull();
        expect(await store.getInstallation('not-a-uuid')).toBeNull();
      });

      it('an installation is found by the hash of its API token', async () => {
        const created = await store.createInstallation(newInstallation());
        expect((await store.findInstallationByTokenHash(created.apiTokenHash!))?.id).toBe(created.id);
        expect(await store.findInstallationByTokenHash('0'.repeat(64))).toBeNull();
      });

      it('listing filters by status', async () => {
        const a = await store.createInstallation(newInstallation());
        const b = await store.createInstallation(newInstallation());
        await store.updateInstallation(b.id, { status: 'uninstalled' });
        const active = (await store.listInstallations({ status: 'active' })).map((i) => i.id);
        const gone = (await store.listInstallations({ status: 'uninstalled' })).map((i) => i.id);
        const all = (await store.listInstallations()).map((i) => i.id);
        expect(active).toContain(a.id);
        expect(active).not.toContain(b.id);
        expect(gone).toContain(b.id);
        expect(gone).not.toContain(a.id);
        expect(all).toEqual(expect.arrayContaining([a.id, b.id]));
      });

      it('an update replaces the given fields, keeps the others and bumps the version', async () => {
        const created = await store.createInstallation(newInstallation());
        const settings = { ...defaultSettings(), enabled: true, fromDate: '2026-11-01' };
        const updated = await store.updateInstallation(
          created.id,
          { settings, operatorSecret: { keyId: 'k2', data: 'eHl6' }, callbackUrl: 'https://x.example/cb' },
          1,
        );
        expect(updated.version).toBe(2);
        expect(updated.settings).toEqual(settings);
        expect(updated.operatorSecret).toEqual({ keyId: 'k2', data: 'eHl6' });
        expect(updated.callbackUrl).toBe('https://x.example/cb');
        expect(updated.hostUrl).toBe(created.hostUrl);
        expect(updated.integrationSecret).toEqual(created.integrationSecret);
        expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
        expect(await store.getInstallation(created.id)).toEqual(updated);

        const cleared = await store.updateInstallation(created.id, { operatorSecret: null, callbackUrl: null });
        expect(cleared.operatorSecret).toBeNull();
        expect(cleared.callbackUrl).toBeNull();
        expect(cleared.version).toBe(3);
      });

      it('an update with a stale expected version is a conflict and changes nothing', async () => {
        const created = await store.createInstallation(newInstallation());
        await store.updateInstallation(created.id, { integrationLogin: 'first' }, 1);
        const err = await store.updateInstallation(created.id, { integrationLogin: 'second' }, 1).catch((e: unknown) => e);
        expect(isConnectorError(err, 'conflict')).toBe(true);
        const now = await store.getInstallation(created.id);
        expect(now?.integrationLogin).toBe('first');
        expect(now?.version).toBe(2);
      });

      it('two concurrent updates with the same expected version: exactly one succeeds', async () => {
        const created = await store.createInstallation(newInstallation());
        const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.updateInstallation(created.id, { integrationLogin: `w${i}` }, 1)));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(isConnectorError(r.reason, 'conflict')).toBe(true);
      });

      it('updating an unknown installation is not_found', async () => {
        const err = await store.updateInstallation(uid(), { status: 'uninstalled' }).catch((e: unknown) => e);
        expect(isConnectorError(err, 'not_found')).toBe(true);
      });
    });

    describe('settings read back', () => {
      const refusal = async (read: Promise<unknown>): Promise<ConnectorError> => {
        const err = await read.then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(ConnectorError);
        return err as ConnectorError;
      };

      for (const version of [1, null]) {
        it(`settings stored without optional settings added later (settings version ${String(version)}) read with their defaults, the stored values kept`, async () => {
          const created = await store.createInstallation(newInstallation());
          await writeStoredSettings(created.id, olderSettings(), version);
          const expected: Settings = {
            ...defaultSettings(),
            enabled: true,
            fromDate: '2026-11-01',
            timezone: 'Europe/Berlin',
            alertEmail: null,
            stripProductCodes: true,
            attachKsefXml: false,
            schedule: { ...defaultSettings().schedule, startAt: '07:30', days: 'every_day' },
          };
          expect((await store.getInstallation(created.id))?.settings).toStrictEqual(expected);
          expect((await store.findInstallationByTokenHash(created.apiTokenHash!))?.settings).toStrictEqual(expected);
          expect((await store.listInstallations()).find((i) => i.id === created.id)?.settings).toStrictEqual(expected);
        });
      }

      it('a stored optional setting that is present is read as stored, not replaced by its default', async () => {
        const created = await store.createInstallation(newInstallation());
        await writeStoredSettings(
          created.id,
          { ...olderSettings(), stripProductCodes: false, schedule: { ...defaultSettings().schedule, days: 'business_days' } },
          1,
        );
        const read = (await store.getInstallation(created.id))!.settings;
        expect(read.stripProductCodes).toBe(false);
        expect(read.schedule.days).toBe('business_days');
      });

      it('a stored value the schema refuses is reported naming the installation and the field, on every read of it', async () => {
        const created = await store.createInstallation(newInstallation());
        await writeStoredSettings(created.id, { ...defaultSettings(), schedule: { ...defaultSettings().schedule, until: '25:00' } }, 1);
        for (const read of [() => store.getInstallation(created.id), () => store.findInstallationByTokenHash(created.apiTokenHash!)]) {
          const err = await refusal(read());
          expect(err.code).toBe('internal');
          expect(err.field).toBe('settings.schedule.until');
          expect(err.message).toContain(created.id);
          expect(err.detail).toEqual({ installationId: created.id, settingsVersion: 1 });
        }
      });

      it('a listing leaves out an installation whose stored settings are refused and lists the others', async () => {
        const broken = await store.createInstallation(newInstallation());
        const fine = await store.createInstallation(newInstallation());
        await writeStoredSettings(broken.id, { ...defaultSettings(), timezone: '' }, 1);
        try {
          const ids = (await store.listInstallations({ status: 'active' })).map((i) => i.id);
          expect(ids).toContain(fine.id);
          expect(ids).not.toContain(broken.id);
        } finally {
          await writeStoredSettings(broken.id, defaultSettings(), 1);
        }
      });

      it('a required setting missing, an unknown setting or a value of the wrong type is refused with its field', async () => {
        const cases: [unknown, string][] = [
          [(({ timezone: _t, ...rest }) => rest)(defaultSettings()), 'settings.timezone'],
          [{ ...defaultSettings(), attachments: { pln: 'standard:invoice' } }, 'settings.attachments.foreign'],
          [{ ...defaultSettings(), sendTwice: true }, 'settings.sendTwice'],
          [{ ...defaultSettings(), enabled: 'yes' }, 'settings.enabled'],
          ['not an object', 'settings'],
        ];
        for (const [stored, field] of cases) {
          const created = await store.createInstallation(newInstallation());
          await writeStoredSettings(created.id, stored, 1);
          const err = await refusal(store.getInstallation(created.id));
          expect({ code: err.code, field: err.field }).toEqual({ code: 'internal', field });
        }
      });

      it('settings written under a settings version newer than this release reads are refused, not guessed at', async () => {
        const created = await store.createInstallation(newInstallation());
        await writeStoredSettings(created.id, defaultSettings(), SETTINGS_VERSION + 1);
        const err = await refusal(store.getInstallation(created.id));
        expect(err.code).toBe('internal');
        expect(err.field).toBe('settings');
        expect(err.message).toContain(created.id);
      });

      it('settings the schema refuses are not stored: create and update answer validation with the field, the row unchanged', async () => {
        const bad = { ...defaultSettings(), schedule: { ...defaultSettings().schedule, startAt: '7:30' } };
        const createErr = await refusal(store.createInstallation(newInstallation({ settings: bad })));
        expect({ code: createErr.code, field: createErr.field }).toEqual({ code: 'validation', field: 'settings.schedule.startAt' });
        const created = await store.createInstallation(newInstallation());
        const updateErr = await refusal(store.updateInstallation(created.id, { settings: bad }, 1));
        expect({ code: updateErr.code, field: updateErr.field }).toEqual({ code: 'validation', field: 'settings.schedule.startAt' });
        expect(await store.getInstallation(created.id)).toEqual(created);
      });

      it('settings written through the port read back exactly as written', async () => {
        const created = await store.createInstallation(newInstallation());
        const settings: Settings = { ...defaultSettings(), attachKsefXml: true, alertEmail: 'alerty@firma.example.pl' };
        const updated = await store.updateInstallation(created.id, { settings }, 1);
        expect(updated.settings).toStrictEqual(settings);
        expect((await store.getInstallation(created.id))?.settings).toStrictEqual(settings);
      });
    });
  });
}
