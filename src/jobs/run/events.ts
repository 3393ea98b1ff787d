/**
 * What a run announces as it goes: the one contract between the run and those who listen to it (the
 * webhook dispatcher, the metrics, the console's run lines, the failure digest). Types only.
 */
import type { Run } from '../../store/port.ts';

/** Outgoing events (webhooks); the pipeline only announces, the webhook module delivers. */
export type PipelineEvent =
  | { type: 'run.completed'; installationId: string; run: Run }
  | {
      type: 'invoice.sent' | 'invoice.failed' | 'invoice.uncertain';
      installationId: string;
      invoiceId: string;
      invoiceNumber: string | null;
      detail: string | null;
    }
  | { type: 'delivery.auth_failed'; installationId: string; account: string; detail: string }
  /** A delivery report came back for one recipient of a sent invoice (src/jobs/run/bounces.ts). */
  | {
      type: 'invoice.bounced';
      installationId: string;
      invoiceId: string;
      invoiceNumber: string | null;
      address: string;
      status: string | null;
      diagnostic: string | null;
      messageId: string;
    };
