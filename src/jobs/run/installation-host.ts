/** Builds the host connection of an installation, decrypting its credentials just before use. */
import type { HostConnection } from '../../connector/port.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';
import type { Installation } from '../../store/port.ts';

export function hostConnectionFor(installation: Installation, secrets: SecretBox, operatorOverride?: { login: string; secret: string }): HostConnection {
  const operatorSecret = installation.operatorSecret ? secrets.decrypt(installation.operatorSecret) : null;
  const operator =
    operatorOverride ?? (installation.settings.operator && operatorSecret !== null ? { login: installation.settings.operator, secret: operatorSecret } : null);
  return {
    kind: installation.hostKind,
    baseUrl: installation.hostUrl,
    database: installation.hostDatabase,
    companyId: installation.companyId,
    integration: { login: installation.integrationLogin, secret: secrets.decrypt(installation.integrationSecret) },
    operator,
  };
}
