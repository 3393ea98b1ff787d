/**
 * Odoo faults -> `ConnectorError`, at the adapter's edge. Odoo answers JSON-RPC errors with HTTP 200 and
 * `{error: {code, message, data: {name, message, arguments, debug}}}`; we classify on `data.name`
 * (the Python exception class), never on message text. Transport failures (network, timeout, HTTP 5xx,
 * a body that is not JSON-RPC) are `host_unavailable` and retryable.
 *
 * Secrets: messages are built from the server's short `data.message` (never its traceback) and every
 * known secret is masked before it goes into a message (`redact`).
 */
import { ConnectorError, type ErrorCode } from '../../errors.ts';

/** The `error` member of a JSON-RPC response from Odoo. */
export interface OdooFault {
  code: number;
  message: string;
  data?: { name?: string; message?: string; arguments?: unknown[]; debug?: string } | null;
}

/** What the call was, for messages (never arguments or credentials). */
export interface CallDescription {
  service: string;
  method: string;
  model?: string;
}

const CLASS_CODES: [RegExp, ErrorCode][] = [
  [/(^|\.)AccessDenied$/, 'host_auth'],
  [/(^|\.)AccessError$/, 'host_access'],
  [/(^|\.)MissingError$/, 'host_not_found'],
  [/(^|\.)(ValidationError|UserError|RedirectWarning|CacheMiss)$/, 'host_validation'],
  [/^builtins\.(KeyError|ValueError|AttributeError|TypeError|IndexError)$/, 'host_validation'],
  [/(^|\.)(SessionExpiredException|Unauthorized)$/, 'host_auth'],
  [/(^|\.)(LockError|SerializationFailure|LockNotAvailable|OperationalError)$/, 'host_unavailable'],
];

/** Odoo exception class name -> our code; unknown server-side exceptions are `host_validation` (the host refused). */
export function codeForOdooClass(name: string | undefined, faultCode?: number, message?: string): ErrorCode {
  if (faultCode === 404) return 'host_not_found';
  // A wrong database name is a configuration error, not a blip: retrying will not help.
  if (name && /OperationalError$/.test(name) && /database "[^"]*" does not exist/.test(message ?? '')) return 'host_not_found';
  if (faultCode === 100) return 'host_auth';
  if (name) {
    for (const [re, code] of CLASS_CODES) if (re.test(name)) return code;
  }
  return 'host_validation';
}

/** Replaces every occurrence of each secret (of 3+ characters) by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 3) out = out.split(s).join('***');
  }
  return out;
}

function where(call: CallDescription): string {
  return call.model ? `${call.model}.${call.method}` : `${call.service}.${call.method}`;
}

/** Translates an Odoo JSON-RPC fault into a `ConnectorError`. */
export function translateFault(fault: OdooFault, call: CallDescription, secrets: readonly string[] = []): ConnectorError {
  const className = fault.data?.name;
  const code = codeForOdooClass(className, fault.code, String(fault.data?.message ?? ''));
  const serverMessage = redact(String(fault.data?.message ?? fault.message ?? 'Odoo error'), secrets).slice(0, 500);
  const shortClass = className ? className.replace(/^.*\./, '') : `code ${fault.code}`;
  return new ConnectorError(code, `Odoo ${code === 'host_unavailable' ? 'failed on' : 'refused'} ${where(call)}: ${shortClass}: ${serverMessage}`, {
    detail: { odooError: className ?? null, odooCode: fault.code, call: where(call) },
  });
}

/** A transport failure (no usable JSON-RPC answer): always `host_unavailable`, retryable. */
export function unavailable(call: CallDescription, reason: string, cause?: unknown): ConnectorError {
  return new ConnectorError('host_unavailable', `Odoo did not answer ${where(call)}: ${reason}`, {
    retryable: true,
    detail: { call: where(call) },
    ...(cause === undefined ? {} : { cause: stripCause(cause) }),
  });
}

/**
 * axios errors carry the request config (with the JSON body, i.e. passwords) — never keep them as a
 * cause. We keep only the error's code and message.
 */
function stripCause(cause: unknown): Error {
  if (cause instanceof Error) {
    const e = new Error(cause.message);
    e.name = cause.name;
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') (e as Error & { code?: string }).code = code;
    return e;
  }
  return new Error(String(cause));
}
