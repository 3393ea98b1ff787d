/**
 * Connector-managed e-mail accounts and templates (docs/design.md §6): for a host that lacks them (Tryton 6.0 has
 * no SMTP account model and no e-mail templates) the connector keeps its own, per installation, and offers
 * them in the same option lists as the host's.
 *
 *  - Accounts: id `managed:<uuid>` (never a host id); SMTP (+ optional IMAP for Drafts/Sent); passwords
 *    are write-only: stored encrypted by the SecretBox, returned as `{ set }`, decrypted only in
 *    `providers().accounts()` just before a host adapter hands them to the mail port.
 *  - Templates: id `connector:managed:<uuid>` (the `connector:` prefix routes them to the connector's own
 *    renderer, like the built-in `connector:invoice`); subject and HTML in Polish and optionally English,
 *    in the placeholder language of src/render/template.ts, validated when saved.
 *  - Every managed account and template is available to every operator of the installation (the
 *    connector has no per-user rights of its own); inactive accounts are not offered.
 *  - A record the settings currently use cannot be deleted (`conflict`, naming the settings field).
 *
 * Changes are merges: a field left out keeps its stored value; a password left out keeps the stored one.
 */
import crypto from 'node:crypto';
import type { EmailAccount, EmailTemplateRef, Operator, TlsMode } from '../domain.ts';
import { ConnectorError, ValidationFailure } from '../errors.ts';
import type { ConnectorTemplateTexts } from '../jobs/run/message.ts';
import { isValidEmail } from '../jobs/rules/selection.ts';
import { validateTemplate } from '../render/template.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Installations, ManagedEmailAccount, ManagedRecords, ManagedTemplate } from '../store/port.ts';

export const MANAGED_ACCOUNT_PREFIX = 'managed:';
export const MANAGED_TEMPLATE_PREFIX = 'connector:managed:';

export function isManagedAccountId(id: string): boolean {
  return id.startsWith(MANAGED_ACCOUNT_PREFIX);
}

export function isManagedTemplateId(id: string): boolean {
  return id.startsWith(MANAGED_TEMPLATE_PREFIX);
}

// ------------------------------------------------------------------ inputs and views

export interface ServerInput {
  host?: string;
  port?: number;
  tls?: TlsMode;
  user?: string | null;
  /** Left out: keep the stored one. null: none (SMTP only). */
  password?: string | null;
}

export interface AccountInput {
  name?: string;
  active?: boolean;
  fromAddress?: string;
  smtp?: ServerInput;
  /** null removes IMAP. */
  imap?: ServerInput | null;
  /** null removes DKIM signing. The private key is write-only; left out it keeps the stored one. */
  dkim?: DkimInput | null;
}

export interface DkimInput {
  domain?: string;
  selector?: string;
  /** PEM (PKCS#1 or PKCS#8), RSA of at least 1024 bits. */
  privateKey?: string;
}

export interface DkimView {
  domain: string;
  selector: string;
  privateKey: { set: boolean };
  /** The TXT record to publish so that receivers can verify the signature. */
  dnsRecord: { name: string; type: 'TXT'; value: string };
}

export interface TemplateInput {
  name?: string;
  subject?: { pl?: string; en?: string | null };
  html?: { pl?: string; en?: string | null };
}

export interface ServerView {
  host: string;
  port: number;
  tls: TlsMode;
  user: string | null;
  password: { set: boolean };
}

export interface AccountView {
  id: string;
  name: string;
  active: boolean;
  fromAddress: string;
  smtp: ServerView;
  imap: ServerView | null;
  dkim: DkimView | null;
  createdAt: string;
  updatedAt: string;
}

export type TemplateView = Omit<ManagedTemplate, 'installationId'>;

/** What a host adapter is given for one installation (see src/connector/registry.ts). */
export interface ManagedProviders {
  /** Active managed accounts with their passwords decrypted. */
  accounts(operator: Operator): Promise<EmailAccount[]>;
  templates(): Promise<EmailTemplateRef[]>;
}

/** The texts of a managed template, for src/jobs/run/message.ts `renderConnectorTemplateFor`. */
export type ManagedTemplateSource = ConnectorTemplateTexts;

export interface ManagedServiceDeps {
  store: Installations & ManagedRecords;
  secrets: SecretBox;
  clock: () => Date;
}

type Problem = { field: string; message: string };

const HOST_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$/;
const TLS_MODES: readonly TlsMode[] = ['none', 'starttls', 'tls'];
const MAX_SUBJECT = 500;
const MAX_HTML = 200_000;

export class ManagedService {
  constructor(private readonly deps: ManagedServiceDeps) {}

  // ---------------------------------------------------------------- accounts

  async listAccounts(installationId: string): Promise<AccountView[]> {
    return (await this.deps.store.listManaged(installationId, 'email_account')).map((a) => accountView(a, this.deps.secrets));
  }

  async getAccount(installationId: string, id: string): Promise<AccountView> {
    return accountView(await this.account(installationId, id), this.deps.secrets);
  }

  async createAccount(installationId: string, input: AccountInput): Promise<AccountView> {
    const now = this.deps.clock().toISOString();
    const record = this.mergeAccount(null, input, { id: `${MANAGED_ACCOUNT_PREFIX}${crypto.randomUUID()}`, installationId, now });
    return accountView(await this.deps.store.putManaged('email_account', record), this.deps.secrets);
  }

  async updateAccount(installationId: string, id: string, input: AccountInput): Promise<AccountView> {
    const current = await this.account(installationId, id);
    const record = this.mergeAccount(current, input, { id, installationId, now: this.deps.clock().toISOString() });
    if (!record.active) await this.refuseIfInUse(installationId, 'emailAccount', id, 'deactivated');
    return accountView(await this.deps.store.putManaged('email_account', record), this.deps.secrets);
  }

  async deleteAccount(installationId: string, id: string): Promise<void> {
    await this.account(installationId, id);
    await this.refuseIfInUse(installationId, 'emailAccount', id, 'deleted');
    await this.deps.store.deleteManaged(installationId, 'email_account', id);
  }

  // ---------------------------------------------------------------- templates

  async listTemplates(installationId: string): Promise<TemplateView[]> {
    return (await this.deps.store.listManaged(installationId, 'template')).map(templateView);
  }

  async getTemplate(installationId: string, id: string): Promise<TemplateView> {
    return templateView(await this.template(installationId, id));
  }

  async createTemplate(installationId: string, input: TemplateInput): Promise<TemplateView> {
    const now = this.deps.clock().toISOString();
    const record = mergeTemplate(null, input, { id: `${MANAGED_TEMPLATE_PREFIX}${crypto.randomUUID()}`, installationId, now });
    return templateView(await this.deps.store.putManaged('template', record));
  }

  async updateTemplate(installationId: string, id: string, input: TemplateInput): Promise<TemplateView> {
    const current = await this.template(installationId, id);
    const record = mergeTemplate(current, input, { id, installationId, now: this.deps.clock().toISOString() });
    return templateView(await this.deps.store.putManaged('template', record));
  }

  async deleteTemplate(installationId: string, id: string): Promise<void> {
    await this.template(installationId, id);
    await this.refuseIfInUse(installationId, 'emailTemplate', id, 'deleted');
    await this.deps.store.deleteManaged(installationId, 'template', id);
  }

  // ---------------------------------------------------------------- for host adapters and runs

  /** The providers a host adapter of this installation gets; secrets are decrypted at each call. */
  providers(installationId: string): ManagedProviders {
    const { store, secrets } = this.deps;
    return {
      accounts: async () => (await store.listManaged(installationId, 'email_account')).filter((a) => a.active).map((a) => toEmailAccount(a, secrets)),
      templates: async () =>
        (await store.listManaged(installationId, 'template')).map((t) => ({ id: t.id, name: t.name, model: 'invoice', renderedByHost: false })),
    };
  }

  // ---------------------------------------------------------------- internals

  private async account(installationId: string, id: string): Promise<ManagedEmailAccount> {
    const found = await this.deps.store.getManaged(installationId, 'email_account', id);
    if (!found) throw new ConnectorError('not_found', `No connector-managed e-mail account ${id}`, { field: 'accountId' });
    return found;
  }

  private async template(installationId: string, id: string): Promise<ManagedTemplate> {
    const found = await this.deps.store.getManaged(installationId, 'template', id);
    if (!found) throw new ConnectorError('not_found', `No connector-managed template ${id}`, { field: 'templateId' });
    return found;
  }

  private async refuseIfInUse(installationId: string, field: 'emailAccount' | 'emailTemplate', id: string, verb: string): Promise<void> {
    const installation = await this.deps.store.getInstallation(installationId);
    if (installation?.settings[field] === id) {
      throw new ConnectorError(
        'conflict',
        `It is the ${field === 'emailAccount' ? 'e-mail account' : 'template'} the settings use; choose another one in the settings before it can be ${verb}`,
        {
          field,
        },
      );
    }
  }

  private mergeAccount(
    current: ManagedEmailAccount | null,
    input: AccountInput,
    ids: { id: string; installationId: string; now: string },
  ): ManagedEmailAccount {
    const { secrets } = this.deps;
    const problems: Problem[] = [];
    const name = (input.name ?? current?.name ?? '').trim();
    if (!name) problems.push({ field: 'name', message: 'a name is required' });
    const fromAddress = (input.fromAddress ?? current?.fromAddress ?? '').trim();
    if (!fromAddress) problems.push({ field: 'fromAddress', message: 'a sender address is required' });
    else if (!isValidEmail(fromAddress)) problems.push({ field: 'fromAddress', message: `"${fromAddress}" is not an e-mail address` });

    const smtpIn = input.smtp ?? {};
    const smtpCur = current?.smtp ?? null;
    const smtp = server('smtp', smtpIn, smtpCur, problems);
    const smtpUser = smtpIn.user !== undefined ? emptyToNull(smtpIn.user) : (smtpCur?.user ?? null);
    let smtpPassword = smtpCur?.password ?? null;
    if (smtpIn.password !== undefined) smtpPassword = smtpIn.password === null || smtpIn.password === '' ? null : secrets.encrypt(smtpIn.password);
    if (smtpPassword && !smtpUser) problems.push({ field: 'smtp.user', message: 'a user name is needed with a password' });

    let imap: ManagedEmailAccount['imap'] = current?.imap ?? null;
    if (input.imap === null) imap = null;
    else if (input.imap !== undefined) {
      const imapIn = input.imap;
      const imapCur = current?.imap ?? null;
      const base = server('imap', imapIn, imapCur, problems);
      const user = imapIn.user !== undefined ? emptyToNull(imapIn.user) : (imapCur?.user ?? null);
      if (!user) problems.push({ field: 'imap.user', message: 'IMAP needs a user name' });
      let password = imapCur?.password ?? null;
      if (imapIn.password !== undefined) password = imapIn.password ? secrets.encrypt(imapIn.password) : null;
      if (!password) problems.push({ field: 'imap.password', message: 'IMAP needs a password' });
      imap = base && user && password ? { ...base, user, password } : null;
    }
    const dkim = mergeDkim(current?.dkim ?? null, input.dkim, fromAddress, secrets, problems);
    if (problems.length || !smtp) throw new ValidationFailure(problems.length ? problems : [{ field: 'smtp', message: 'SMTP settings are required' }]);
    return {
      id: ids.id,
      installationId: ids.installationId,
      name,
      active: input.active ?? current?.active ?? true,
      fromAddress,
      smtp: { ...smtp, user: smtpUser, password: smtpPassword },
      imap,
      dkim,
      createdAt: current?.createdAt ?? ids.now,
      updatedAt: ids.now,
    };
  }
}

const DOMAIN_RE = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;
const SELECTOR_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * DKIM key, domain and selector merged over the stored ones. The signing domain must be the sender's
 * domain or a parent of it (otherwise DMARC does not align the signature with From); the key must be
 * a private RSA key (≥ 1024 bits) in PEM.
 */
function mergeDkim(
  current: NonNullable<ManagedEmailAccount['dkim']> | null,
  input: DkimInput | null | undefined,
  fromAddress: string,
  secrets: SecretBox,
  problems: Problem[],
): ManagedEmailAccount['dkim'] {
  if (input === null) return null;
  if (input === undefined) return current;
  const domain = (input.domain ?? current?.domain ?? '').trim().toLowerCase();
  const selector = (input.selector ?? current?.selector ?? '').trim();
  const before = problems.length;
  if (!domain) problems.push({ field: 'dkim.domain', message: 'a signing domain is required' });
  else if (!DOMAIN_RE.test(domain)) problems.push({ field: 'dkim.domain', message: `"${domain}" is not a domain name` });
  else {
    const senderDomain = fromAddress.split('@')[1]?.toLowerCase() ?? '';
    if (senderDomain && senderDomain !== domain && !senderDomain.endsWith(`.${domain}`)) {
      problems.push({
        field: 'dkim.domain',
        message: `the sender ${fromAddress} is not in ${domain}: receivers would not align the signature with the From address`,
      });
    }
  }
  if (!selector) problems.push({ field: 'dkim.selector', message: 'a selector is required' });
  else if (!SELECTOR_RE.test(selector)) problems.push({ field: 'dkim.selector', message: `"${selector}" is not a DNS label (letters, digits, hyphens)` });
  let privateKey = current?.privateKey ?? null;
  if (input.privateKey !== undefined) {
    const problem = privateKeyProblem(input.privateKey);
    if (problem) problems.push({ field: 'dkim.privateKey', message: problem });
    else privateKey = secrets.encrypt(input.privateKey.trim());
  } else if (!privateKey) problems.push({ field: 'dkim.privateKey', message: 'a private key is required' });
  return problems.length === before && privateKey ? { domain, selector, privateKey } : null;
}

function privateKeyProblem(pem: string): string | null {
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(pem.trim());
  } catch {
    return 'not a private key in PEM format';
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits >= 1024 ? null : `an RSA key of ${bits} bits is too short (at least 1024, 2048 recommended)`;
  }
  // nodemailer signs with RSA only: an Ed25519 key would leave messages unsigned without an error.
  return `a ${key.asymmetricKeyType ?? 'unknown'} key cannot sign here: DKIM signing uses RSA keys (2048 bits recommended)`;
}

/** The DNS TXT record receivers look up: `v=DKIM1; k=rsa; p=<SubjectPublicKeyInfo, base64>`. */
export function dkimDnsRecord(dkim: { domain: string; selector: string }, privateKeyPem: string): DkimView['dnsRecord'] {
  const der = crypto.createPublicKey(crypto.createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'der' });
  return { name: `${dkim.selector}._domainkey.${dkim.domain}`, type: 'TXT', value: `v=DKIM1; k=rsa; p=${der.toString('base64')}` };
}

function emptyToNull(s: string | null): string | null {
  const t = s?.trim() ?? '';
  return t ? t : null;
}

/** host/port/tls of one server, merged over the stored ones; problems name `<prefix>.<field>`. */
function server(prefix: 'smtp' | 'imap', input: ServerInput, current: { host: string; port: number; tls: TlsMode } | null, problems: Problem[]) {
  const host = (input.host ?? current?.host ?? '').trim();
  const tls = input.tls ?? current?.tls ?? (prefix === 'smtp' ? 'starttls' : 'tls');
  const port = input.port ?? current?.port ?? defaultPort(prefix, tls);
  const before = problems.length;
  if (!host) problems.push({ field: `${prefix}.host`, message: 'a server name is required' });
  else if (!HOST_RE.test(host)) problems.push({ field: `${prefix}.host`, message: `"${host}" is not a host name or address` });
  if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push({ field: `${prefix}.port`, message: 'a port between 1 and 65535 is required' });
  if (!TLS_MODES.includes(tls)) problems.push({ field: `${prefix}.tls`, message: `one of ${TLS_MODES.join(', ')}` });
  return problems.length === before ? { host, port, tls } : null;
}

function defaultPort(kind: 'smtp' | 'imap', tls: TlsMode): number {
  if (kind === 'smtp') return tls === 'tls' ? 465 : 587;
  return tls === 'tls' ? 993 : 143;
}

function mergeTemplate(current: ManagedTemplate | null, input: TemplateInput, ids: { id: string; installationId: string; now: string }): ManagedTemplate {
  const problems: Problem[] = [];
  const name = (input.name ?? current?.name ?? '').trim();
  if (!name) problems.push({ field: 'name', message: 'a name is required' });
  const pick = (part: 'subject' | 'html', lang: 'pl' | 'en'): string | null => {
    const given = input[part]?.[lang];
    if (given !== undefined) return given === null || given.trim() === '' ? null : given;
    return current?.[part][lang] ?? null;
  };
  const subject = { pl: pick('subject', 'pl'), en: pick('subject', 'en') };
  const html = { pl: pick('html', 'pl'), en: pick('html', 'en') };
  if (subject.pl === null) problems.push({ field: 'subject.pl', message: 'a Polish subject is required' });
  if (html.pl === null) problems.push({ field: 'html.pl', message: 'a Polish body is required' });
  if ((subject.en === null) !== (html.en === null)) {
    const missing = subject.en === null ? 'subject.en' : 'html.en';
    problems.push({ field: missing, message: 'an English version needs both a subject and a body' });
  }
  for (const [part, texts, max] of [
    ['subject', subject, MAX_SUBJECT],
    ['html', html, MAX_HTML],
  ] as const) {
    for (const lang of ['pl', 'en'] as const) {
      const text = texts[lang];
      if (text === null) continue;
      const field = `${part}.${lang}`;
      if (text.length > max) problems.push({ field, message: `at most ${max} characters` });
      const { unknownPlaceholders } = validateTemplate({ subject: part === 'subject' ? text : '', html: part === 'html' ? text : '' });
      for (const p of unknownPlaceholders) problems.push({ field, message: `unknown placeholder "{{ ${p} }}"` });
    }
  }
  if (problems.length) throw new ValidationFailure(problems);
  return {
    id: ids.id,
    installationId: ids.installationId,
    name,
    subject: { pl: subject.pl!, en: subject.en },
    html: { pl: html.pl!, en: html.en },
    createdAt: current?.createdAt ?? ids.now,
    updatedAt: ids.now,
  };
}

function serverView(s: { host: string; port: number; tls: TlsMode; user: string | null; password: unknown }): ServerView {
  return { host: s.host, port: s.port, tls: s.tls, user: s.user, password: { set: s.password !== null } };
}

function accountView(a: ManagedEmailAccount, secrets: SecretBox): AccountView {
  return {
    id: a.id,
    name: a.name,
    active: a.active,
    fromAddress: a.fromAddress,
    smtp: serverView(a.smtp),
    imap: a.imap ? serverView(a.imap) : null,
    dkim: a.dkim
      ? { domain: a.dkim.domain, selector: a.dkim.selector, privateKey: { set: true }, dnsRecord: dkimDnsRecord(a.dkim, secrets.decrypt(a.dkim.privateKey)) }
      : null,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

function templateView(t: ManagedTemplate): TemplateView {
  const { installationId: _installationId, ...view } = t;
  return view;
}

function toEmailAccount(a: ManagedEmailAccount, secrets: SecretBox): EmailAccount {
  return {
    id: a.id,
    name: a.name,
    active: a.active,
    fromAddress: a.fromAddress,
    fromFilter: null,
    smtp: { host: a.smtp.host, port: a.smtp.port, tls: a.smtp.tls, user: a.smtp.user, password: a.smtp.password ? secrets.decrypt(a.smtp.password) : null },
    imap: a.imap ? { host: a.imap.host, port: a.imap.port, tls: a.imap.tls, user: a.imap.user, password: secrets.decrypt(a.imap.password) } : null,
    dkim: a.dkim ? { domain: a.dkim.domain, selector: a.dkim.selector, privateKey: secrets.decrypt(a.dkim.privateKey) } : null,
  };
}

/** The stored texts of a managed template for a run or a preview; null for any other template id. */
export async function managedTemplateSource(store: ManagedRecords, installationId: string, templateId: string): Promise<ManagedTemplateSource | null> {
  if (!isManagedTemplateId(templateId)) return null;
  const t = await store.getManaged(installationId, 'template', templateId);
  return t ? { subject: t.subject, html: t.html } : null;
}
