/**
 * The sandbox host's server-side exceptions, serialised exactly as Odoo's JSON-RPC dispatcher does:
 * HTTP 200 with `{"error":{"code":200,"message":"Odoo Server Error","data":{name,message,arguments,context,debug}}}`.
 * These never leave the sandbox as thrown objects; the HTTP layer turns them into payloads.
 */
export class OdooError extends Error {
  constructor(
    /** Python dotted class name, e.g. "odoo.exceptions.AccessError", "builtins.KeyError". */
    readonly exceptionName: string,
    message: string,
    readonly args: unknown[] = [message],
    /** JSON-RPC error code: 200 server error, 404 not found, 100 session expired. */
    readonly code = 200,
  ) {
    super(message);
    this.name = 'OdooError';
  }

  toPayload(): { code: number; message: string; data: Record<string, unknown> } {
    const short = this.exceptionName.replace(/^builtins\./, '');
    return {
      code: this.code,
      message: this.code === 100 ? 'Odoo Session Expired' : this.code === 404 ? '404: Not Found' : 'Odoo Server Error',
      data: {
        name: this.exceptionName,
        debug: `Traceback (most recent call last):\n  File "/sandbox/odoo/http.py", line 1, in dispatch\n${short}: ${this.message}\n`,
        message: this.message,
        arguments: this.args,
        context: {},
      },
    };
  }
}

export const accessDenied = (): OdooError => new OdooError('odoo.exceptions.AccessDenied', 'Access Denied');

export const userError = (message: string): OdooError => new OdooError('odoo.exceptions.UserError', message);
