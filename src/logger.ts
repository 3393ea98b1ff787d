/**
 * The process logger (pino). Secrets are redacted by path as a second line of defence; the first is
 * that no code passes them to a logger.
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = Pick<PinoLogger, 'info' | 'warn' | 'error' | 'debug' | 'child'>;

export const REDACT_PATHS = [
  'password',
  '*.password',
  'secret',
  '*.secret',
  'operatorPassword',
  '*.operatorPassword',
  '*.smtp.password',
  '*.imap.password',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers["x-api-token"]',
];

/** Query parameters that carry credentials (the embeddable pages' signed link `t`). */
const SECRET_QUERY = /([?&](?:t|token)=)[^&#]*/gi;

export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY, '$1[redacted]');
}

/** Fastify logs each request as `req`: keep what helps support, without credentials in the URL. */
function requestSerializer(req: { method?: string; url?: string; hostname?: string; ip?: string; id?: unknown }) {
  return { id: req.id, method: req.method, url: req.url ? redactUrl(req.url) : undefined, hostname: req.hostname, remoteAddress: req.ip };
}

export function createLogger(level: string, destination?: NodeJS.WritableStream): PinoLogger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, serializers: { req: requestSerializer } };
  return destination ? pino(options, destination as unknown as pino.DestinationStream) : pino(options);
}
