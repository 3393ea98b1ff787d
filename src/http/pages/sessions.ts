/**
 * Page links and page sessions of one installation, checked against its page-signing key (derived
 * from its webhook secret, so an uninstalled installation has none and every link dies with it).
 * Used by the page routes (links and pages) and by the auth plugin (the page API's sessions).
 */
import type { SecretBox } from '../../secrets/secret-box.ts';
import type { Installation, Store } from '../../store/port.ts';
import { LINK_TTL_SECONDS, SESSION_TTL_SECONDS, pageKey, signPageToken, verifyPageToken, type PageClaims, type PageLang, type PageTokenKind } from './links.ts';

export class PageSessions {
  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
    readonly clock: () => Date,
  ) {}

  /** The installation and its page-signing key, or null when it has none (unknown, uninstalled). */
  async keyOf(installationId: string): Promise<{ installation: Installation; key: Buffer } | null> {
    const installation = await this.store.getInstallation(installationId);
    if (!installation || installation.status !== 'active' || !installation.webhookSecret) return null;
    return { installation, key: pageKey(this.secrets.decrypt(installation.webhookSecret)) };
  }

  /** The installation and the token's claims when the token is a valid one of this kind for it, else null. */
  async verify(installationId: string, token: string, kind: PageTokenKind): Promise<{ installation: Installation; claims: PageClaims } | null> {
    const k = await this.keyOf(installationId);
    if (!k) return null;
    const v = verifyPageToken(k.key, token, { installationId, kind, now: this.clock() });
    return v.ok ? { installation: k.installation, claims: v.claims } : null;
  }

  /** A new token of this kind for the installation (link: about 10 minutes, session: about an hour). */
  sign(key: Buffer, installationId: string, lang: PageLang, kind: PageTokenKind): { token: string; exp: number } {
    const exp = Math.floor(this.clock().getTime() / 1000) + (kind === 'link' ? LINK_TTL_SECONDS : SESSION_TTL_SECONDS);
    return { token: signPageToken(key, { i: installationId, lang, kind, exp }), exp };
  }
}
