/** The `ManagedRecords` port's contract: connector-kept e-mail accounts and templates per installation. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ManagedEmailAccount, ManagedRecords, Store } from '../../../src/store/port.ts';
import type { ManagedTemplate } from '../../../src/store/port.ts';
import { at, newInstallation, uid } from './fixtures.ts';

export function managedRecordsContract(port: () => Store): void {
  describe('ManagedRecords', () => {
    let store: ManagedRecords & Pick<Store, 'createInstallation' | 'purgeInstallation'>;
    beforeAll(() => {
      store = port();
    });

    describe('connector-managed accounts and templates', () => {
      const account = (installationId: string, over: Partial<ManagedEmailAccount> = {}): ManagedEmailAccount => ({
        id: `managed:${uid()}`,
        installationId,
        name: 'Faktury',
        active: true,
        fromAddress: 'faktury@firma.example.pl',
        smtp: { host: 'smtp.firma.example.pl', port: 587, tls: 'starttls', user: 'faktury', password: { keyId: 'k1', data: 'cGFzcw==' } },
        imap: null,
        createdAt: at(0),
        updatedAt: at(0),
        ...over,
      });
      const template = (installationId: string): ManagedTemplate => ({
        id: `connector:managed:${uid()}`,
        installationId,
        name: 'Przypomnienie',
        subject: { pl: 'Faktura {{ invoice.number }}', en: null },
        html: { pl: '<p>Dzień dobry</p>', en: null },
        createdAt: at(0),
        updatedAt: at(0),
      });

      it('a saved account reads back identically, listed oldest first per installation and kind', async () => {
        const inst = uid();
        const a = account(inst, {
          imap: { host: 'imap.firma.example.pl', port: 993, tls: 'tls', user: 'faktury', password: { keyId: 'k1', data: 'aW1hcA==' } },
        });
        const b = account(inst, { name: 'Drugie', createdAt: at(5), updatedAt: at(5) });
        expect(await store.putManaged('email_account', a)).toEqual(a);
        await store.putManaged('email_account', b);
        await store.putManaged('email_account', account(uid()));
        await store.putManaged('template', template(inst));
        expect(await store.getManaged(inst, 'email_account', a.id)).toEqual(a);
        expect((await store.listManaged(inst, 'email_account')).map((r) => r.id)).toEqual([a.id, b.id]);
        expect(await store.listManaged(inst, 'template')).toHaveLength(1);
        expect(await store.getManaged(inst, 'template', a.id)).toBeNull();
        expect(await store.getManaged(uid(), 'email_account', a.id)).toBeNull();
      });

      it('saving again replaces the record but keeps its creation time', async () => {
        const inst = uid();
        const t = template(inst);
        await store.putManaged('template', t);
        const changed = { ...t, name: 'Nowa nazwa', subject: { pl: 'X', en: 'Y' }, createdAt: at(30), updatedAt: at(30) };
        const saved = await store.putManaged('template', changed);
        expect(saved).toEqual({ ...changed, createdAt: at(0) });
        expect(await store.getManaged(inst, 'template', t.id)).toEqual({ ...changed, createdAt: at(0) });
        expect(await store.listManaged(inst, 'template')).toHaveLength(1);
      });

      it('delete removes one record and says whether there was one; purge removes them all', async () => {
        const created = await store.createInstallation(newInstallation());
        const a = account(created.id);
        const t = template(created.id);
        await store.putManaged('email_account', a);
        await store.putManaged('template', t);
        expect(await store.deleteManaged(created.id, 'template', a.id)).toBe(false);
        expect(await store.deleteManaged(created.id, 'email_account', a.id)).toBe(true);
        expect(await store.deleteManaged(created.id, 'email_account', a.id)).toBe(false);
        expect(await store.getManaged(created.id, 'email_account', a.id)).toBeNull();
        await store.purgeInstallation(created.id);
        expect(await store.listManaged(created.id, 'template')).toEqual([]);
      });
    });
  });
}
