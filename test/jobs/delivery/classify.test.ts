/**
 * classify(fault, evidence): every fault of a delivery and every evidence answer maps to one outcome.
 * The SMTP errors here are the ones the SMTP adapter builds (classifySmtpError), so a phase the adapter
 * reports is classified as it reaches the pipeline.
 */
import { describe, expect, it } from 'vitest';
import { backoffAt, classify, type ClassifyContext, type Fault } from '../../../src/jobs/rules/classify.ts';
import { ConnectorError } from '../../../src/errors.ts';
import { classifySmtpError } from '../../../src/mail/smtp.ts';
import type { Evidence } from '../../../src/mail/port.ts';

const NOW = new Date('2026-05-12T10:00:00Z');
const ctx = (over: Partial<ClassifyContext> = {}): ClassifyContext => ({
  mode: 'send_now',
  attempts: 1,
  maxAttempts: 3,
  now: NOW,
  recipients: ['a@x.example', 'b@x.example'],
  ...over,
});

const lostConnection = (phase: 'connect' | 'envelope' | 'data' | 'awaiting_reply') =>
  classifySmtpError({ code: 'ECONNECTION', command: 'CONN', message: 'Connection closed unexpectedly' }, phase);

describe('classify: mail faults by SMTP phase', () => {
  for (const phase of ['connect', 'envelope', 'data'] as const) {
    it(`a connection lost in phase ${phase} (before the final ".") is retried automatically, in the run and later`, () => {
      const c = classify({ kind: 'mail', error: lostConnection(phase) }, null, ctx());
      expect(c.outcome.state).toBe('retry');
      expect(c.outcome.reason).toBe('smtp_temporary');
      expect(c.retryNow).toBe(true);
      expect(c.needsEvidence).toBe(false);
      expect(c.nextAttemptAt).toBe(backoffAt(NOW, 1));
      expect(c.writeBack).toBe(false);
    });
  }

  it('a connection lost after the final "." and before the reply asks for evidence first', () => {
    const c = classify({ kind: 'mail', error: lostConnection('awaiting_reply') }, null, ctx());
    expect(c.needsEvidence).toBe(true);
    expect(c.retryNow).toBe(false);
  });

  it('… found in the mailbox: sent to every recipient, written back, by evidence', () => {
    const c = classify({ kind: 'mail', error: lostConnection('awaiting_reply') }, 'found', ctx());
    expect(c.outcome).toMatchObject({ state: 'sent', reason: null });
    expect(c.outcome.recipients).toEqual([
      { address: 'a@x.example', accepted: true, reply: null },
      { address: 'b@x.example', accepted: true, reply: null },
    ]);
    expect(c.writeBack).toBe(true);
    expect(c.byEvidence).toBe(true);
  });

  for (const evidence of ['not_found', 'unknown'] as Evidence[]) {
    it(`… ${evidence} in the mailbox: uncertain for a person, never retried, not written back`, () => {
      const c = classify({ kind: 'mail', error: lostConnection('awaiting_reply') }, evidence, ctx());
      expect(c.outcome.state).toBe('uncertain');
      expect(c.outcome.reason).toBe('interrupted');
      expect(c.retryNow).toBe(false);
      expect(c.writeBack).toBe(false);
      expect(c.nextAttemptAt).toBeNull();
    });
  }

  it('an error that is not ours (cannot be placed in the transaction) is treated as possibly delivered', () => {
    expect(classify({ kind: 'mail', error: new TypeError('boom') }, null, ctx()).needsEvidence).toBe(true);
    expect(classify({ kind: 'mail', error: new TypeError('boom') }, 'unknown', ctx()).outcome.state).toBe('uncertain');
    const unknownPhase = new ConnectorError('mail_temporary', 'odd', { detail: { phase: 'unknown' } });
    expect(classify({ kind: 'mail', error: unknownPhase }, null, ctx()).needsEvidence).toBe(true);
  });

  it('a 5xx reply after the message (final_reply) is failed smtp_permanent, written back, no evidence needed', () => {
    const e = classifySmtpError({ code: 'EMESSAGE', command: 'DATA', responseCode: 554, response: '554 spam' }, 'awaiting_reply');
    expect(e.detail?.['phase']).toBe('final_reply');
    const c = classify({ kind: 'mail', error: e }, null, ctx());
    expect(c.outcome).toMatchObject({ state: 'failed', reason: 'smtp_permanent' });
    expect(c.writeBack).toBe(true);
    expect(c.needsEvidence).toBe(false);
  });

  it('a 4xx reply after the message is a retry (the server refused it, it did not take it)', () => {
    const e = classifySmtpError({ code: 'EMESSAGE', command: 'DATA', responseCode: 452, response: '452 full' }, 'awaiting_reply');
    const c = classify({ kind: 'mail', error: e }, null, ctx());
    expect(c.outcome.state).toBe('retry');
    expect(c.needsEvidence).toBe(false);
  });

  it('a 5xx for every recipient keeps the per-recipient replies', () => {
    const e = classifySmtpError(
      {
        code: 'EENVELOPE',
        command: 'RCPT TO',
        responseCode: 550,
        response: '550 no such user',
        rejectedErrors: [{ recipient: 'a@x.example', response: '550 no such user' }],
      },
      'envelope',
    );
    const c = classify({ kind: 'mail', error: e }, null, ctx());
    expect(c.outcome).toMatchObject({ state: 'failed', reason: 'smtp_permanent' });
    expect(c.outcome.recipients).toEqual([{ address: 'a@x.example', reply: '550 no such user' }]);
  });

  it('a temporary fault on the last allowed attempt is failed attempts_exhausted (written back)', () => {
    const c = classify({ kind: 'mail', error: lostConnection('envelope') }, null, ctx({ attempts: 3 }));
    expect(c.outcome).toMatchObject({ state: 'failed', reason: 'attempts_exhausted' });
    expect(c.outcome.detail).toMatch(/^Gave up after 3 attempts/);
    expect(c.writeBack).toBe(true);
  });

  it('refused credentials and an unusable account stop the run; the invoice is skipped silently (not its fault)', () => {
    const auth = classify({ kind: 'mail', error: classifySmtpError({ code: 'EAUTH', responseCode: 535, response: '535 no' }, 'connect') }, null, ctx());
    expect(auth).toMatchObject({ stopRun: 'mail_auth', silent: true, writeBack: false });
    expect(auth.outcome).toMatchObject({ state: 'skipped', reason: 'smtp_auth' });
    const config = classify({ kind: 'mail', error: new ConnectorError('mail_config', 'no IMAP', { detail: { phase: 'connect' } }) }, null, ctx());
    expect(config).toMatchObject({ stopRun: 'mail_config', silent: true });
    expect(config.outcome).toMatchObject({ state: 'skipped', reason: 'account_unusable' });
  });

  it('a delivery we stopped before the hand-over (the claim could not be confirmed) is a retry, but not again in this run', () => {
    const c = classify(
      { kind: 'mail', error: new ConnectorError('mail_temporary', 'stopped', { detail: { phase: 'data', handover: 'refused' } }) },
      null,
      ctx(),
    );
    expect(c.outcome.state).toBe('retry');
    expect(c.retryNow).toBe(false);
    expect(c.needsEvidence).toBe(false);
  });

  it('a message that cannot be built is failed render_failed', () => {
    const c = classify({ kind: 'mail', error: new ConnectorError('render_failed', 'bad', { detail: { phase: 'connect' } }) }, null, ctx());
    expect(c.outcome).toMatchObject({ state: 'failed', reason: 'render_failed' });
  });

  it('an IMAP fault while saving a draft (no phase) is retried', () => {
    const c = classify({ kind: 'mail', error: new ConnectorError('mail_temporary', 'IMAP connection failed') }, null, ctx({ mode: 'save_draft' }));
    expect(c.outcome.state).toBe('retry');
  });
});

describe('classify: the other faults', () => {
  it('delivered: sent with the per-recipient result and the reply; drafted in save_draft', () => {
    const result = {
      mode: 'send_now' as const,
      recipients: [
        { address: 'a@x.example', accepted: true, reply: null },
        { address: 'b@x.example', accepted: false, reply: '450 busy' },
      ],
      response: '250 OK',
    };
    const c = classify({ kind: 'delivered', result }, null, ctx());
    expect(c.outcome).toEqual({ state: 'sent', reason: null, detail: '250 OK', recipients: result.recipients });
    expect(c.writeBack).toBe(true);
    expect(classify({ kind: 'delivered', result }, null, ctx({ mode: 'save_draft' })).outcome.state).toBe('drafted');
  });

  it('no template: failed render_failed', () => {
    expect(classify({ kind: 'no_template' }, null, ctx()).outcome).toMatchObject({ state: 'failed', reason: 'render_failed' });
  });

  it('a print the host cannot produce right now (retryable) is a retry that uses no attempt; otherwise failed', () => {
    const later = classify({ kind: 'print', error: new ConnectorError('host_unavailable', 'report busy') }, null, ctx({ attempts: 3 }));
    expect(later.outcome).toMatchObject({ state: 'retry', reason: 'print_unavailable' });
    expect(later.nextAttemptAt).not.toBeNull();
    expect(later.retryNow).toBe(false);
    expect(classify({ kind: 'print', error: new ConnectorError('print_unavailable', 'no report') }, null, ctx()).outcome).toMatchObject({
      state: 'failed',
      reason: 'print_unavailable',
    });
    expect(classify({ kind: 'print', error: new Error('pdf bug') }, null, ctx()).outcome).toMatchObject({ state: 'failed', reason: 'render_failed' });
  });

  it('a failed host read: retry when retryable (naming what), else failed', () => {
    const retry = classify({ kind: 'read', error: { what: 'res.currency.rate', detail: 'timeout', retryable: true } }, null, ctx());
    expect(retry.outcome).toMatchObject({ state: 'retry', reason: 'host_read_failed' });
    expect(retry.outcome.detail).toContain('res.currency.rate');
    const failed = classify({ kind: 'read', error: { what: 'report', detail: 'AccessError', retryable: false } }, null, ctx());
    expect(failed.outcome).toMatchObject({ state: 'failed', reason: 'host_read_failed' });
    expect(failed.writeBack).toBe(true);
  });

  it('attempts used up: failed attempts_exhausted naming the limit and the last detail', () => {
    const c = classify({ kind: 'exhausted', attempts: 4, lastDetail: '451 later' }, null, ctx());
    expect(c.outcome).toMatchObject({ state: 'failed', reason: 'attempts_exhausted', detail: 'Gave up after 4 attempts (limit 3): 451 later' });
  });

  const recipients = [{ address: 'a@x.example', accepted: true, reply: null }];
  const interrupted: Fault = { kind: 'interrupted', recipients, handedOver: true };
  it('a delivery interrupted before the hand-over (the ledger says so) is retried automatically, without evidence; attempts still count', () => {
    const early: Fault = { kind: 'interrupted', recipients, handedOver: false };
    const c = classify(early, null, ctx());
    expect(c.outcome).toMatchObject({ state: 'retry', reason: 'interrupted' });
    expect(c.needsEvidence).toBe(false);
    expect(c.retryNow).toBe(false);
    expect(classify(early, null, ctx({ attempts: 3 })).outcome).toMatchObject({ state: 'failed', reason: 'attempts_exhausted' });
  });

  it('a delivery interrupted after the hand-over asks for evidence, then: found -> sent/drafted (written back)', () => {
    expect(classify(interrupted, null, ctx()).needsEvidence).toBe(true);
    expect(classify(interrupted, 'found', ctx()).outcome).toMatchObject({ state: 'sent', recipients });
    expect(classify(interrupted, 'found', ctx({ mode: 'save_draft' })).outcome.state).toBe('drafted');
    expect(classify(interrupted, 'found', ctx()).writeBack).toBe(true);
  });

  it('… not found: a draft is retried (never stored), a sent message is uncertain; unknown: uncertain', () => {
    expect(classify(interrupted, 'not_found', ctx({ mode: 'save_draft' })).outcome).toMatchObject({ state: 'retry', reason: 'interrupted' });
    expect(classify(interrupted, 'not_found', ctx()).outcome).toMatchObject({ state: 'uncertain', reason: 'interrupted' });
    expect(classify(interrupted, 'unknown', ctx()).outcome.state).toBe('uncertain');
    expect(classify(interrupted, 'unknown', ctx({ mode: 'save_draft' })).outcome.state).toBe('uncertain');
  });

  it('backoff: 5 min, 15 min, 45 min, ... capped at 6 h', () => {
    const minutes = (a: number) => (Date.parse(backoffAt(NOW, a)) - NOW.getTime()) / 60_000;
    expect([1, 2, 3, 4, 5, 9].map(minutes)).toEqual([5, 15, 45, 135, 360, 360]);
  });
});
