/**
 * Tryton faults -> `ConnectorError`, in one place.
 *
 * What Tryton 6.0 answers (measured against trytond 6.0 from Debian):
 *  - HTTP 401 (empty body) for a bad password at `common.db.login` and for an expired/unknown session
 *    on any other call; HTTP 429 when logins for that name are rate limited (too many failures);
 *    HTTP 403 for a method that is not exposed over RPC; HTTP 404 when the database cannot be opened.
 *  - HTTP 200 with `{"error": ["UserError", [message, description, domain]]}` for business refusals
 *    (posted invoice cannot be modified, ...). Tryton's `AccessError` is a `UserError` subclass and is
 *    serialised the same way; only its message tells it apart ("You are not allowed to ...").
 *  - HTTP 200 with `{"error": ["UserWarning", [name, message, description]]}` for warnings the client
 *    would ask the user to confirm; `["ConcurrencyException", message]` for a stale write.
 *  - HTTP 200 with `{"error": ["'no_such_field'", "<traceback>"]}` for any other server exception:
 *    a KeyError on an unknown field or model prints as the quoted name.
 */
import { ConnectorError } from '../../errors.ts';

/** The `error` member of a Tryton JSON-RPC response, as received. */
export type TrytonRpcFault = unknown;

const ACCESS_PATTERN = /\b(not allowed to|access (is )?denied|you are not allowed)\b/i;

function text(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
}

/** Translates the `error` member of a JSON-RPC response into a `ConnectorError`. */
export function faultToError(fault: TrytonRpcFault, method: string): ConnectorError {
  const detail = { method };
  if (Array.isArray(fault) && fault.length >= 1) {
    const [kind, payload] = fault as [unknown, unknown];
    if (kind === 'UserError' && Array.isArray(payload)) {
      const message = text(payload[0]);
      const description = text(payload[1]);
      const full = description ? `${message} ${description}` : message;
      if (ACCESS_PATTERN.test(message)) {
        return new ConnectorError('host_access', `Tryton refused access: ${full}`, { detail });
      }
      return new ConnectorError('host_validation', `Tryton refused the request: ${full}`, { detail });
    }
    if (kind === 'UserWarning' && Array.isArray(payload)) {
      return new ConnectorError('host_validation', `Tryton asks for confirmation: ${text(payload[1])}`, { detail });
    }
    if (kind === 'ConcurrencyException') {
      return new ConnectorError('host_unavailable', `Tryton reports a concurrent change: ${text(payload)}`, {
        detail,
        retryable: true,
      });
    }
    if (kind === 'LoginException') {
      return new ConnectorError('host_auth', 'Tryton asks for another login step (not supported)', { detail });
    }
    if (typeof kind === 'string') {
      const quoted = /^'([^']+)'$/.exec(kind);
      if (quoted) {
        return new ConnectorError('host_validation', `Tryton does not know "${quoted[1]}" (unknown model, field or method)`, {
          detail: { ...detail, name: quoted[1] },
        });
      }
      if (/database .* doesn't exist/i.test(kind)) {
        return new ConnectorError('host_not_found', 'The Tryton database does not exist', { detail });
      }
      // The traceback (payload) stays out of the message: it may echo values.
      return new ConnectorError('host_validation', `Tryton failed the call: ${kind.slice(0, 300)}`, { detail });
    }
  }
  return new ConnectorError('host_unavailable', 'Tryton answered with an unreadable error', { detail });
}

/** Translates a non-200 HTTP status. `phase` tells a login from an authenticated call. */
export function statusToError(status: number, method: string, phase: 'login' | 'call'): ConnectorError {
  const detail = { method, status };
  if (status === 401) {
    return phase === 'login'
      ? new ConnectorError('host_auth', 'Tryton refused the login or password', { detail })
      : new ConnectorError('host_auth', 'Tryton refused the session (login no longer valid)', { detail });
  }
  if (status === 429) {
    return new ConnectorError('host_unavailable', 'Tryton refuses logins for this user for now (too many failed attempts)', {
      detail: { ...detail, rateLimited: true },
      retryable: true,
    });
  }
  if (status === 403) return new ConnectorError('host_access', 'Tryton forbids this call', { detail });
  if (status === 404) return new ConnectorError('host_not_found', 'Tryton database or endpoint not found', { detail });
  return new ConnectorError('host_unavailable', `Tryton answered HTTP ${status}`, { detail });
}

/** Translates a transport failure (no HTTP answer: refused, reset, timeout). */
export function networkToError(err: unknown, method: string, timeoutMs: number): ConnectorError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'unknown';
  const timedOut = code === 'ECONNABORTED' || code === 'ETIMEDOUT' || code === 'ERR_CANCELED';
  return new ConnectorError('host_unavailable', timedOut ? `Tryton did not answer within ${timeoutMs} ms` : `Tryton is not reachable (${code})`, {
    cause: err,
    detail: { method, network: code },
  });
}
