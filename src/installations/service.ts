/**
 * The installation use cases behind the HTTP API: install, settings (validated against the live host
 * before anything is saved), option lists for the settings form, run now, uninstall. Routes stay thin;
 * everything they do goes through here.
 */
import type { ExtensionLinks, HostErp } from '../connector/port.ts';
import type { InstallationHostFactory } from '../connector/registry.ts';
import type { HostKind } from '../connector/registry.ts';
import { findHostDescriptor } from '../connector/registry.ts';
import type { EmailAccount, EmailTemplateRef, Operator, PrintRef } from '../domain.ts';
import { parsePrintChoice } from '../domain.ts';
import { ConnectorError, ValidationFailure, isConnectorError, type FieldError } from '../errors.ts';
import { problem } from '../messages/validation.ts';
import { nextVersionMessageId } from '../jobs/run/bounces.ts';
import { hostConnectionFor } from '../jobs/run/installation-host.ts';
import { CONNECTOR_TEMPLATE_PREFIX } from '../jobs/run/message.ts';
import type { Scheduler } from '../jobs/scheduler/port.ts';
import { permissionReason, requiredHostRights } from '../manifest/host-manifest.ts';
import { randomToken, safeEqual, sha256Hex, type SecretBox } from '../secrets/secret-box.ts';
import { applyEnableDefaults, checkSettings } from '../settings/check.ts';
import { attachesKsefXml, defaultSettings, stripsProductCodes, type Settings, type SettingsInput, type SettingsView } from '../settings/schema.ts';
import type { Installation, Store } from '../store/port.ts';

export interface InstallInput {
  hostKind: HostKind;
  hostUrl: string;
  database: string;
  companyId?: string | null;
  integration: { login: string; secret: string };
  callbackUrl?: string | null;
  /** Initial settings (merged over the defaults and validated like any change). */
  settings?: SettingsInput;
}

export interface Installed {
  installation: Installation;
  /** Shown once: the host's token for this installation's API. */
  apiToken: string;
  /** Shown once: signs webhooks both ways. */
  webhookSecret: string;
}

export interface ServiceDeps {
  store: Store;
  /** The host adapter for an installation (with its connector-managed accounts/templates once it exists). */
  createHost: InstallationHostFactory;
  secrets: SecretBox;
  scheduler: Scheduler | null;
  clock: () => Date;
  /** Connector operators' token (config ADMIN_TOKEN): purging an uninstalled installation's data. Null: purge disabled. */
  adminToken?: string | null;
  /** The connector's own standard prints (src/render). */
  standardPrints: () => PrintRef[];
  /** The URL hosts reach the connector at (config PUBLIC_URL): the host's menu entries open its pages. Unset: no menu entries. */
  publicUrl?: string | (() => string);
}

/** Oldest Odoo major version the adapter serves. */

/**
 * A host fault during the install handshake as bad input naming the field (4xx, never a 500), with the
 * host's own message kept in the text: the database, the URL, or the credential.
 */
function installInputError(e: unknown): unknown {
  if (e instanceof ValidationFailure || !isConnectorError(e)) return e;
  const says = e.message;
  // Each answer names the field; the host's own words stay as quoted detail.
  const refuse = (field: string, code: Parameters<typeof problem>[1], errorCode: string) =>
    new ValidationFailure([problem(field, code, { detail: says })], errorCode as never);
  if (e.code === 'host_auth') return refuse('integration.secret', 'install.credentials_refused', 'host_auth');
  if (e.code === 'host_not_found' && /company/i.test(says)) return refuse('companyId', 'install.no_company', 'host_not_found');
  if (e.code === 'host_not_found' && /database/i.test(says)) return refuse('database', 'install.no_database', 'host_not_found');
  if (e.code === 'host_not_found') return refuse('hostUrl', 'install.not_this_host', 'host_not_found');
  if (e.code === 'host_unavailable') return refuse('hostUrl', 'install.host_unreachable', 'validation');
  if (e.code === 'host_access') return refuse('integration.login', 'install.no_rights', 'host_access');
  if (e.code === 'host_validation') return refuse('hostUrl', 'install.handshake_refused', 'host_validation');
  return e;
}

export class InstallationService {
  constructor(private readonly deps: ServiceDeps) {}

  /** The service's clock (injected; frozen in tests), for answers that depend on the time of day. */
  now(): Date {
    return this.deps.clock();
  }

  private host(installation: Installation, operator?: { login: string; secret: string }): HostErp {
    return this.deps.createHost(hostConnectionFor(installation, this.deps.secrets, operator), installation.id);
  }

  async install(input: InstallInput): Promise<Installed> {
    const { createHost } = this.deps;
    // The host must answer with the integration credential before anything is stored.
    const probe = createHost({
      kind: input.hostKind,
      baseUrl: input.hostUrl,
      database: input.database,
      companyId: input.companyId ?? null,
      integration: input.integration,
      operator: input.integration,
    });
    try {
      return await this.installWith(probe, input);
    } finally {
      await probe.close?.();
    }
  }

  private async installWith(probe: HostErp, input: InstallInput): Promise<Installed> {
    const { store, secrets } = this.deps;
    try {
      const info = await probe.describe();
      const major = parseInt(info.version.replace(/^saas~/, ''), 10);
      const minimum = findHostDescriptor(input.hostKind)?.minMajorVersion;
      if (minimum !== undefined && Number.isFinite(major) && major < minimum) {
        throw new ValidationFailure([problem('hostUrl', 'install.version_unsupported', { version: info.version, minimum })], 'host_validation');
      }
      await probe.checkOperator();
    } catch (e) {
      throw installInputError(e);
    }
    // The integration user must hold every right the manifest asks for: refuse naming each missing one.
    if (probe.checkRights) {
      const missing = await probe.checkRights(requiredHostRights(input.hostKind)).catch((e: unknown) => {
        throw installInputError(e);
      });
      if (missing.length) {
        throw new ValidationFailure(
          missing.map((m) =>
            problem('integration.login', 'install.missing_right', {
              login: input.integration.login,
              access: m.access,
              model: m.model,
              reason: permissionReason(input.hostKind, m.model) ?? '',
            }),
          ),
          'host_access',
        );
      }
    }
    const templates = await probe.listEmailTemplates().catch(() => [] as EmailTemplateRef[]);
    const operator = await probe.checkOperator();
    const accounts = await probe.listEmailAccounts(operator).catch(() => [] as EmailAccount[]);
    const settings: Settings = {
      ...defaultSettings(),
      operator: input.integration.login,
      emailTemplate: templates[0]?.id ?? `${CONNECTOR_TEMPLATE_PREFIX}invoice`,
      emailAccount: accounts[0]?.id ?? '',
    };
    const apiToken = randomToken();
    const webhookSecret = randomToken();
    let installation = await store.createInstallation({
      hostKind: input.hostKind,
      hostUrl: input.hostUrl.replace(/\/+$/, ''),
      hostDatabase: input.database,
      companyId: input.companyId ?? null,
      integrationLogin: input.integration.login,
      integrationSecret: secrets.encrypt(input.integration.secret),
      operatorSecret: secrets.encrypt(input.integration.secret),
      settings,
      callbackUrl: input.callbackUrl ?? null,
      webhookSecret: secrets.encrypt(webhookSecret),
      apiTokenHash: sha256Hex(apiToken),
    });
    if (input.settings && Object.keys(input.settings).length) {
      try {
        await this.updateSettings(installation.id, input.settings);
      } catch (e) {
        await store.purgeInstallation(installation.id);
        throw e;
      }
      installation = (await store.getInstallation(installation.id))!;
    }
    await this.registerInHost(probe, installation.id);
    return { installation, apiToken, webhookSecret };
  }

  /** The host menu entries that open this installation's pages; null when no public URL is configured. */
  private links(id: string): ExtensionLinks | null {
    const base = typeof this.deps.publicUrl === 'function' ? this.deps.publicUrl() : this.deps.publicUrl;
    if (!base) return null;
    const root = `${base.replace(/\/+$/, '')}/ui/installations/${id}`;
    return {
      entries: [
        { name: 'Ustawienia / Settings', url: `${root}/settings`, sequence: 90 },
        { name: 'Dziennik / Logs', url: `${root}/logs`, sequence: 91 },
      ],
    };
  }

  /**
   * Creates (or repairs) the host's menu entries with the integration credential. Optional on the host:
   * a refusal is logged on the installation and changes nothing else.
   */
  private async registerInHost(host: HostErp, id: string, logFailure = true): Promise<void> {
    const links = this.links(id);
    if (!links || !host.ensureExtension) return;
    try {
      await host.ensureExtension(links);
    } catch (e) {
      if (!logFailure) return;
      await this.deps.store
        .appendLogs([
          {
            installationId: id,
            runId: null,
            at: this.deps.clock().toISOString(),
            level: 'warning',
            event: 'host.menu_failed',
            invoiceId: null,
            invoiceNumber: null,
            message: `The menu entry in the host could not be made: ${e instanceof Error ? e.message : String(e)}`,
            data: null,
          },
        ])
        .catch(() => undefined);
    }
  }

  async authenticate(token: string): Promise<Installation | null> {
    if (!token) return null;
    const installation = await this.deps.store.findInstallationByTokenHash(sha256Hex(token));
    return installation && installation.status === 'active' ? installation : null;
  }

  /** A new API token (the old one stops working). Used by the demo at every start. */
  async rotateApiToken(id: string): Promise<string> {
    const token = randomToken();
    await this.deps.store.updateInstallation(id, { apiTokenHash: sha256Hex(token) });
    return token;
  }

  async get(id: string): Promise<Installation> {
    const installation = await this.deps.store.getInstallation(id);
    if (!installation || installation.status !== 'active') throw new ConnectorError('not_found', `Installation ${id} not found`);
    return installation;
  }

  view(installation: Installation): SettingsView {
    const s = installation.settings;
    return {
      ...s,
      stripProductCodes: stripsProductCodes(s),
      attachKsefXml: attachesKsefXml(s),
      operatorPassword: { set: installation.operatorSecret !== null },
    };
  }

  /**
   * Merges the input over the stored settings, checks the result (shape, rules, then the live host) and
   * saves it only when everything passes. The password is kept unless a new one is given. Every problem
   * is reported at once (one ValidationFailure): `shapeProblems` are the request's schema errors, whose
   * fields the caller left out of `input`, so the host is still asked about the rest.
   */
  async updateSettings(id: string, input: SettingsInput, opts: { shapeProblems?: FieldError[] } = {}): Promise<SettingsView> {
    const { store, secrets, clock } = this.deps;
    const current = await this.get(id);
    const { operatorPassword, attachments, schedule, ...rest } = input;
    let next: Settings = {
      ...current.settings,
      ...rest,
      attachments: { ...current.settings.attachments, ...(attachments ?? {}) },
      schedule: { ...current.settings.schedule, ...(schedule ?? {}) },
    };
    next = applyEnableDefaults(current.settings, next, clock());
    const problems: FieldError[] = [
      ...(opts.shapeProblems ?? []),
      ...checkSettings(
        next,
        this.deps.standardPrints().map((p) => p.choice.replace(/^standard:/, '')),
      ),
    ];

    // A changed operator needs its own password; the stored one belongs to the previous operator.
    const operatorChanged = next.operator !== current.settings.operator;
    if (operatorChanged && operatorPassword === undefined) {
      problems.push(problem('operatorPassword', 'settings.operator_password_needed', { operator: next.operator }));
    } else {
      const operatorSecret = operatorPassword !== undefined ? operatorPassword : current.operatorSecret ? secrets.decrypt(current.operatorSecret) : null;
      const seen = new Set(problems.map((p) => p.field));
      try {
        for (const p of await this.validateAgainstHost(current, next, operatorSecret, operatorPassword !== undefined)) if (!seen.has(p.field)) problems.push(p);
      } catch (e) {
        // A host that cannot be asked: the problems already found are still the answer.
        if (!problems.length) throw e;
      }
    }
    if (problems.length) throw new ValidationFailure(problems);

    const saved = await store.updateInstallation(
      id,
      {
        settings: next,
        ...(operatorPassword !== undefined ? { operatorSecret: secrets.encrypt(operatorPassword) } : {}),
      },
      current.version,
    );
    await this.deps.scheduler?.sync(saved);
    const integrationHost = this.host(saved);
    try {
      await this.registerInHost(integrationHost, saved.id, false); // repairs a deleted entry; refusals were logged at install
    } finally {
      await integrationHost.close?.();
    }
    return this.view(saved);
  }

  /** The problems the live host finds (none when nothing it decides changed). */
  private async validateAgainstHost(current: Installation, next: Settings, operatorSecret: string | null, passwordGiven: boolean): Promise<FieldError[]> {
    const needsHost =
      next.enabled ||
      passwordGiven ||
      next.operator !== current.settings.operator ||
      next.emailAccount !== current.settings.emailAccount ||
      next.emailTemplate !== current.settings.emailTemplate ||
      next.delivery !== current.settings.delivery ||
      next.attachments.pln !== current.settings.attachments.pln ||
      next.attachments.foreign !== current.settings.attachments.foreign;
    if (!needsHost) return [];
    if (operatorSecret === null) return [problem('operatorPassword', 'settings.operator_password_missing')];
    const host = this.host({ ...current, settings: next }, { login: next.operator, secret: operatorSecret });
    try {
      return await this.validateWith(host, current, next, passwordGiven);
    } finally {
      await host.close?.();
    }
  }

  private async validateWith(host: HostErp, _current: Installation, next: Settings, passwordGiven: boolean): Promise<FieldError[]> {
    const problems: FieldError[] = [];
    let operator: Operator;
    try {
      operator = await host.checkOperator();
    } catch (e) {
      if (isConnectorError(e, 'host_auth'))
        return [problem(passwordGiven ? 'operatorPassword' : 'operator', 'settings.operator_login_refused', { operator: next.operator })];
      throw e;
    }
    if (next.emailAccount) {
      const accounts = await host.listEmailAccounts(operator);
      const account = accounts.find((a) => a.id === next.emailAccount);
      if (!account) problems.push(problem('emailAccount', 'settings.email_account_unavailable', { account: next.emailAccount, operator: next.operator }));
      else if (next.delivery === 'save_draft' && !account.imap) {
        problems.push(problem('delivery', 'settings.drafts_need_imap', { account: account.name }));
      }
    } else if (next.enabled) problems.push(problem('emailAccount', 'settings.email_account_required'));

    if (next.emailTemplate && !next.emailTemplate.startsWith(CONNECTOR_TEMPLATE_PREFIX)) {
      const templates = await host.listEmailTemplates();
      if (!templates.some((t) => t.id === next.emailTemplate)) {
        problems.push(problem('emailTemplate', 'settings.template_unknown', { template: next.emailTemplate }));
      }
    } else if (
      next.emailTemplate &&
      next.emailTemplate !== `${CONNECTOR_TEMPLATE_PREFIX}invoice` &&
      !(await host.listEmailTemplates()).some((t) => t.id === next.emailTemplate)
    ) {
      // Other `connector:` ids are the installation's connector-managed templates, listed by the host adapter.
      problems.push(problem('emailTemplate', 'settings.template_unknown', { template: next.emailTemplate }));
    }

    const userPrints = next.attachments.pln.startsWith('user:') || next.attachments.foreign.startsWith('user:') ? await host.listUserPrints() : [];
    for (const field of ['pln', 'foreign'] as const) {
      const choice = parsePrintChoice(next.attachments[field]);
      if (choice?.kind === 'user' && !userPrints.some((p) => p.choice === next.attachments[field])) {
        problems.push(problem(`attachments.${field}`, 'settings.print_not_on_host', { print: next.attachments[field] }));
      }
    }
    return problems;
  }

  async options(id: string, kind: 'operators' | 'email-accounts' | 'templates' | 'prints', operatorLogin?: string) {
    const installation = await this.get(id);
    const host = this.host(installation);
    try {
      return await this.optionsFrom(host, installation, kind, operatorLogin);
    } finally {
      await host.close?.();
    }
  }

  private async optionsFrom(host: HostErp, installation: Installation, kind: 'operators' | 'email-accounts' | 'templates' | 'prints', operatorLogin?: string) {
    switch (kind) {
      case 'operators':
        return (await host.listOperators()).map((o) => ({ value: o.login, label: o.name, email: o.email }));
      case 'email-accounts': {
        const operators = await host.listOperators();
        const login = operatorLogin ?? installation.settings.operator;
        const operator = operators.find((o) => o.login === login);
        if (!operator) throw new ValidationFailure([problem('operator', 'settings.operator_unknown', { login })]);
        return (await host.listEmailAccounts(operator)).map((a) => ({ value: a.id, label: a.name, from: a.fromAddress, imap: a.imap !== null }));
      }
      case 'templates': {
        const templates = await host.listEmailTemplates();
        return [
          ...templates.map((t) => ({ value: t.id, label: t.name })),
          { value: `${CONNECTOR_TEMPLATE_PREFIX}invoice`, label: 'Faktura dla klienta (Invoice Courier)' },
        ];
      }
      case 'prints': {
        const user = await host.listUserPrints().catch(() => [] as PrintRef[]);
        return [...this.deps.standardPrints(), ...user, { choice: 'none', name: 'Bez załącznika / no attachment' }].map((p) => ({
          value: p.choice,
          label: p.name,
        }));
      }
    }
  }

  async runNow(id: string): Promise<void> {
    await this.get(id);
    if (!this.deps.scheduler) throw new ConnectorError('internal', 'no scheduler in this process');
    await this.deps.scheduler.runNow(id, 'manual');
  }

  async uninstall(id: string): Promise<void> {
    const installation = await this.get(id);
    await this.deps.scheduler?.remove(id);
    // The host's menu entries go while the integration credential is still known (best effort).
    const links = this.links(id);
    if (links) {
      const host = this.host(installation);
      try {
        await host.removeExtension?.(links.entries[0]!.url.replace(/[^/]+$/, ''));
      } catch {
        // The host may be gone already; the installation is removed anyway.
      } finally {
        await host.close?.();
      }
    }
    // Keep the ledger, logs, runs and webhook deliveries for audit; drop every secret (the integration
    // credential's column cannot be empty, so it keeps an encrypted empty string).
    await this.deps.store.updateInstallation(id, {
      status: 'uninstalled',
      apiTokenHash: null,
      webhookSecret: null,
      operatorSecret: null,
      integrationSecret: this.deps.secrets.encrypt(''),
    });
  }

  /**
   * Removes an uninstalled installation with its ledger, logs, runs and webhook deliveries, for the
   * connector's operators (the admin token). An active installation is uninstalled first by its host.
   */
  async purge(id: string, adminToken: string): Promise<void> {
    const configured = this.deps.adminToken;
    if (!configured) throw new ConnectorError('forbidden', 'Purging is disabled: no ADMIN_TOKEN is configured', { field: 'authorization' });
    if (!adminToken) throw new ConnectorError('unauthorized', 'Missing bearer token (the admin token)', { field: 'authorization' });
    if (!safeEqual(sha256Hex(adminToken), sha256Hex(configured))) throw new ConnectorError('unauthorized', 'Invalid admin token', { field: 'authorization' });
    const installation = await this.deps.store.getInstallation(id);
    if (!installation) throw new ConnectorError('not_found', `Installation ${id} not found`);
    if (installation.status === 'active') throw new ConnectorError('conflict', `Installation ${id} is still installed; uninstall it first`, { field: 'id' });
    await this.deps.scheduler?.remove(id);
    await this.deps.store.purgeInstallation(id);
  }

  async allowResend(id: string, invoiceId: string): Promise<void> {
    await this.get(id);
    // A sent invoice that bounced goes out again as its next version, with a Message-ID of its own.
    const [entry] = await this.deps.store.getLedger(id, [invoiceId]);
    const bounced = entry?.state === 'sent' && entry.recipients.some((r) => r.bounce);
    const next = bounced ? { messageId: nextVersionMessageId(entry) } : undefined;
    const ok = await this.deps.store.allowResend(id, invoiceId, next);
    if (!ok) throw new ConnectorError('conflict', `Invoice ${invoiceId} is not uncertain, failed or bounced; nothing to re-send`, { field: 'invoiceId' });
    await this.deps.store.appendLogs([
      {
        installationId: id,
        runId: null,
        at: this.deps.clock().toISOString(),
        level: 'info',
        event: 'invoice.resend_allowed',
        invoiceId,
        invoiceNumber: entry?.invoiceNumber ?? null,
        message: 'A person allowed this invoice to be sent again; the next run sends it',
        data: next ? { afterBounce: true, messageId: next.messageId, version: (entry!.version ?? 1) + 1 } : null,
      },
    ]);
  }
}
