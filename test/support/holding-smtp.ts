/**
 * A real SMTP server (smtp-server, in this process) that holds every message `holdMs` before its 250 and
 * counts what it holds: the most at once, how many it accepted, and how many messages reached it before
 * its first 250. For tests of how many deliveries a connector runs at once.
 */
import { SMTPServer } from 'smtp-server';

export interface HoldingSmtpServer {
  port: number;
  /** Messages held now, the most held at once, accepted so far, and received before the first was accepted. */
  readonly counts: { holding: number; mostAtOnce: number; accepted: number; beforeFirstAccept: number };
  close(): Promise<void>;
}

export async function startHoldingSmtpServer(holdMs: number): Promise<HoldingSmtpServer> {
  const counts = { holding: 0, mostAtOnce: 0, accepted: 0, beforeFirstAccept: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _s, cb) {
      cb(null, { user: auth.username });
    },
    onData(stream, _s, cb) {
      counts.holding++;
      if (counts.accepted === 0) counts.beforeFirstAccept++;
      counts.mostAtOnce = Math.max(counts.mostAtOnce, counts.holding);
      stream.on('data', () => undefined);
      stream.on('end', () =>
        setTimeout(() => {
          counts.holding--;
          counts.accepted++;
          cb();
        }, holdMs),
      );
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.server.address() as { port: number }).port,
    counts,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
