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

export function createLogger(level: string, destination?: NodeJS.WritableStream): PinoLogger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination as unknown as pino.DestinationStream) : pino(options);
}
