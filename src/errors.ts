/**
 * One error type for the whole connector, with a closed list of stable codes. Adapters translate vendor
 * faults (Odoo fault payloads, SMTP replies, pg errors) into it at their edge; the HTTP layer maps codes
 * to statuses in one place; tests assert on `code`, never on message text.
 */
export const ERROR_CODES = {
  // input
  validation: 400,
  not_found: 404,
  conflict: 409,
  unauthorized: 401,
  forbidden: 403,
  // host ERP
  host_auth: 422, // the given host credentials do not log in
  host_access: 422, // logged in, but not allowed to read/write what is needed
  host_not_found: 422, // a referenced host record does not exist
  host_validation: 422, // the host refused the values
  host_unavailable: 502, // the host did not answer, or answered garbage
  // mail
  mail_auth: 502,
  mail_temporary: 502,
  mail_permanent: 502,
  mail_config: 422,
  // rendering
  render_failed: 500,
  print_unavailable: 422,
  // store
  store_unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class ConnectorError extends Error {
  readonly code: ErrorCode;
  /** The offending field, as a JSON path of the request body (e.g. "schedule.until"). */
  readonly field: string | undefined;
  /** True when the same call may succeed later without any change (network blip, 4xx SMTP reply). */
  readonly retryable: boolean;
  /** Extra, safe-to-show detail (never secrets). */
  readonly detail: Record<string, unknown> | undefined;
  /** The message catalogue's code and parameters for a person (src/messages); the API renders its sentence. */
  readonly say: { code: string; params?: Record<string, unknown> } | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: {
      field?: string;
      retryable?: boolean;
      cause?: unknown;
      detail?: Record<string, unknown>;
      say?: { code: string; params?: Record<string, unknown> };
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConnectorError';
    this.code = code;
    this.field = options.field;
    this.retryable = options.retryable ?? (code === 'host_unavailable' || code === 'mail_temporary' || code === 'store_unavailable');
    this.detail = options.detail;
    this.say = options.say;
  }

  get status(): number {
    return ERROR_CODES[this.code];
  }
}

export function isConnectorError(e: unknown, code?: ErrorCode): e is ConnectorError {
  return e instanceof ConnectorError && (code === undefined || e.code === code);
}

/** One field's problem: `code`/`params` name its sentence in the message catalogue (src/messages). */
export interface FieldError {
  field: string;
  message: string;
  code?: string;
  params?: Record<string, unknown>;
}

/** A validation failure naming several fields at once; the API returns them all. */
export class ValidationFailure extends ConnectorError {
  readonly fields: FieldError[];
  constructor(fields: FieldError[], code: ErrorCode = 'validation') {
    super(code, fields.map((f) => `${f.field}: ${f.message}`).join('; '), { field: fields[0]?.field });
    this.fields = fields;
  }
}
