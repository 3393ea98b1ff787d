/**
 * The host sessions of split runs' page jobs in this process (./pipeline.ts `runPage`): per run, the host
 * connection, operator and e-mail account its pages use, so that a process logs in once per credential
 * per run however many of its pages it works.
 */
import os from 'node:os';
import type { HostErp } from '../../connector/port.ts';
import type { InstallationHostFactory } from '../../connector/registry.ts';
import type { EmailAccount, Operator } from '../../domain.ts';
import { parsePrintChoice } from '../../domain.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';
import type { Installation, Store } from '../../store/port.ts';
import { requireCompleteSettings, resolveSender } from '../rules/plan.ts';
import { hostConnectionFor } from './installation-host.ts';

/** What a process needs to work pages of a run: the host connection, the operator and account, resolved once. */
export interface RunSession {
  installation: Installation;
  host: HostErp;
  operator: Operator;
  account: EmailAccount;
}

/** What opening a session needs of the pipeline's dependencies. */
export interface SessionDeps {
  store: Pick<Store, 'getInstallation'>;
  createHost: InstallationHostFactory;
  secrets: SecretBox;
  prints: { warm?(): Promise<void> };
}

/** Whether a ledger owner (`<hostname>:<pid>:<random>`) is a process of this machine. */
export function ownerIsHere(owner: string): boolean {
  const m = /^(.*):(\d+):[^:]+$/.exec(owner);
  return !!m && m[1] === os.hostname();
}

/** Closes the host connections this process keeps for page jobs of other processes' runs. */
export async function closePageSessions(deps: { owner: string }): Promise<void> {
  await SESSIONS.get(deps.owner)?.closeAll();
}

/**
 * Per process, per run: the host connection, operator and account its page jobs use (one login per
 * credential per process per run). The coordinator's process uses the run's own; another process opens
 * one with its first page of the run and closes it once no page of the run came for `IDLE_MS`.
 */
export class PageSessions {
  private static readonly IDLE_MS = 30_000;
  private readonly sessions = new Map<string, { ready: Promise<RunSession | null>; users: number; own: boolean; idle: NodeJS.Timeout | null }>();

  register(runId: string, session: RunSession): void {
    this.sessions.set(runId, { ready: Promise.resolve(session), users: 0, own: false, idle: null });
  }

  unregister(runId: string): void {
    const entry = this.sessions.get(runId);
    if (entry && !entry.own) this.sessions.delete(runId);
  }

  async acquire(deps: SessionDeps, runId: string, installationId: string): Promise<RunSession | null> {
    let entry = this.sessions.get(runId);
    if (!entry) {
      entry = { ready: this.open(deps, installationId), users: 0, own: true, idle: null };
      this.sessions.set(runId, entry);
    }
    entry.users++;
    if (entry.idle) clearTimeout(entry.idle);
    entry.idle = null;
    try {
      const session = await entry.ready;
      if (!session) this.drop(runId, entry);
      return session;
    } catch (e) {
      this.drop(runId, entry);
      throw e;
    }
  }

  release(runId: string): void {
    const entry = this.sessions.get(runId);
    if (!entry) return;
    entry.users--;
    if (entry.users > 0 || !entry.own) return;
    entry.idle = setTimeout(() => void this.close(runId, entry), PageSessions.IDLE_MS);
    entry.idle.unref();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.sessions].filter(([, e]) => e.own).map(([runId, e]) => this.close(runId, e)));
  }

  private drop(runId: string, entry: { users: number }): void {
    entry.users--;
    if (this.sessions.get(runId) === entry) this.sessions.delete(runId);
  }

  private async close(runId: string, entry: { ready: Promise<RunSession | null>; idle: NodeJS.Timeout | null }): Promise<void> {
    if (entry.idle) clearTimeout(entry.idle);
    if (this.sessions.get(runId) === entry) this.sessions.delete(runId);
    const session = await entry.ready.catch(() => null);
    await Promise.resolve(session?.host.close?.()).catch(() => undefined);
  }

  private async open(deps: SessionDeps, installationId: string): Promise<RunSession | null> {
    const installation = await deps.store.getInstallation(installationId);
    if (!installation || installation.status !== 'active') return null;
    requireCompleteSettings(installation.settings, { fromDate: true });
    const host = deps.createHost(hostConnectionFor(installation, deps.secrets), installation.id);
    // As a run does: the renderer gets ready while the host answers (a cold process's first renders would hold its first e-mails).
    const { attachments } = installation.settings;
    if ([attachments.pln, attachments.foreign].some((c) => parsePrintChoice(c)?.kind === 'standard')) void deps.prints.warm?.();
    try {
      const { operator, account } = await resolveSender(host, installation.settings);
      return { installation, host, operator, account };
    } catch (e) {
      await Promise.resolve(host.close?.()).catch(() => undefined);
      throw e;
    }
  }
}

const SESSIONS = new Map<string, PageSessions>();
export function sessionsOf(deps: { owner: string }): PageSessions {
  let sessions = SESSIONS.get(deps.owner);
  if (!sessions) SESSIONS.set(deps.owner, (sessions = new PageSessions()));
  return sessions;
}
