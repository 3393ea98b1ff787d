/**
 * The process logger (pino). Secrets are redacted by path as a second line of defence; the first is
 * that no code passes them to a logger.
 *
 * On a terminal (stdout is a TTY and no destination is given) lines are pretty-printed in process by
 * pino-pretty: time, level, message, and a request's method, URL and status on one line. Anywhere else
 * (a pipe, a file, a log collector) every line is one JSON object.
 */
import { pino, type Logger as PinoLogger } from 'pino';
import pinoPretty from 'pino-pretty';

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

export interface LoggerOptions {
  /** Human-readable lines instead of JSON; default: when writing to stdout and stdout is a terminal. */
  pretty?: boolean;
}

/** The pretty stream: "[22:31:05] INFO: GET /api/… 200 request completed in 3 ms", "[22:31:19] INFO: run 3f2a9c1e for …". */
export function prettyStream(destination: NodeJS.WritableStream | undefined, colorize: boolean): pinoPretty.PrettyStream {
  return pinoPretty({
    ...(destination ? { destination } : {}),
    colorize,
    sync: true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname,reqId,req,res,responseTime,run',
    messageFormat: '{if req.method}{req.method} {req.url} {end}{if res.statusCode}{res.statusCode} {end}{msg}{if responseTime} in {responseTime} ms{end}',
    singleLine: true,
  });
}

export function createLogger(level: string, destination?: NodeJS.WritableStream, options: LoggerOptions = {}): PinoLogger {
  const pinoOptions = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, serializers: { req: requestSerializer } };
  const pretty = options.pretty ?? (destination === undefined && process.stdout.isTTY === true);
  if (pretty) return pino(pinoOptions, prettyStream(destination, destination === undefined && pinoPretty.isColorSupported));
  return destination ? pino(pinoOptions, destination as unknown as pino.DestinationStream) : pino(pinoOptions);
}
