/**
 * A real, private Dovecot IMAP server for tests (test/services/dovecot-start.sh in a temp dir, on free
 * loopback ports). Returns null when Dovecot is not installed; tests then skip with
 * `DOVECOT_INSTALL_HINT`.
 *
 *   const dovecot = await startDovecot();          // Drafts, Sent, Trash exist (special-use)
 *   const bare = await startDovecot({ autoFolders: false });   // no Drafts/Sent until created
 *   account.imap = dovecot.imap('none');           // or 'starttls' / 'tls' with { ca: dovecot.ca }
 *   await dovecot.stop();
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImapSettings, TlsMode } from '../../src/domain.ts';

export const DOVECOT_BINARY = '/usr/sbin/dovecot';
export const DOVECOT_INSTALL_HINT = 'Dovecot is not installed: apt-get install -y --no-install-recommends dovecot-imapd';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'services', 'dovecot-start.sh');

export interface TestDovecot {
  host: string;
  /** Plain IMAP port (STARTTLS offered). */
  port: number;
  /** Implicit TLS port. */
  tlsPort: number;
  user: string;
  password: string;
  /** PEM of Dovecot's self-signed certificate (localhost, 127.0.0.1). */
  ca: string;
  /** IMAP settings for an EmailAccount, in the given TLS mode. */
  imap(tls?: TlsMode, overrides?: Partial<ImapSettings>): ImapSettings;
  stop(): Promise<void>;
}

export function dovecotAvailable(): boolean {
  return existsSync(DOVECOT_BINARY);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function startDovecot(options: { autoFolders?: boolean } = {}): Promise<TestDovecot | null> {
  if (!dovecotAvailable()) return null;
  const dir = mkdtempSync(path.join(tmpdir(), 'ic-dovecot-'));
  const [port, tlsPort] = [await freePort(), await freePort()];
  const user = 'faktury';
  const password = 'Tajne-Haslo-1';
  await new Promise<void>((resolve, reject) => {
    execFile(
      'bash',
      [SCRIPT, dir, String(port), String(tlsPort), user, password],
      { timeout: 30_000, env: { ...process.env, DOVECOT_NO_AUTO_FOLDERS: options.autoFolders === false ? '1' : '0' } },
      (err, _stdout, stderr) => (err ? reject(new Error(`dovecot did not start: ${err.message}\n${stderr}`)) : resolve()),
    );
  });
  const pid = Number(readFileSync(path.join(dir, 'dovecot.pid'), 'utf8').trim());
  const ca = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
  return {
    host: '127.0.0.1',
    port,
    tlsPort,
    user,
    password,
    ca,
    imap(tls = 'none', overrides = {}) {
      return { host: '127.0.0.1', port: tls === 'tls' ? tlsPort : port, tls, user, password, ...overrides };
    },
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // already gone
      }
      // Dovecot's master waits for its children on SIGTERM; a throwaway test server need not
      const deadline = Date.now() + 500;
      for (;;) {
        try {
          process.kill(pid, Date.now() < deadline ? 0 : 'SIGKILL');
        } catch {
          break;
        }
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
