/**
 * The benchmarks' SMTP server, in a thread of its own (started by `startSmtpSink` in ./far-side.ts).
 * In production the host ERP and the mail server are other machines; in the benchmark's parent they
 * would share one event loop, so each page the sandbox host computes would hold the SMTP server's
 * replies too, and the run would be charged for the host's pause as "no e-mail leaving". In this thread
 * the server answers while the host computes; they still share the machine's cores.
 *
 * Messages to the parent: `{ listening: port }`, then `{ accepted }` per message (stamped here, when the
 * server accepted it), `{ flushed: id }` for each `{ flush: id }` (everything accepted before it has been
 * posted) and `{ stopped: true }` after `{ stop: true }`.
 */
import { parentPort } from 'node:worker_threads';
import { SMTPServer } from 'smtp-server';

const port = parentPort!;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  disableReverseLookup: true,
  logger: false,
  onAuth(auth, _s, cb) {
    cb(null, { user: auth.username });
  },
  onData(stream, session, cb) {
    let head = '';
    stream.on('data', (d: Buffer) => {
      if (head.length < 8192) head += d.toString('latin1');
    });
    stream.on('end', () => {
      const m = /^message-id:\s*(\S+)/im.exec(head);
      port.postMessage({ accepted: { at: Date.now(), messageId: m ? m[1]! : '', session: session.id } });
      cb();
    });
  },
});
port.on('message', (msg: { flush?: number; stop?: boolean }) => {
  if (msg.flush !== undefined) port.postMessage({ flushed: msg.flush });
  if (msg.stop) server.close(() => port.postMessage({ stopped: true }));
});
server.listen(0, '127.0.0.1', () => port.postMessage({ listening: (server.server.address() as { port: number }).port }));
