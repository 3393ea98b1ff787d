/**
 * Previews of one invoice: the PDF and the message a run would send, nothing sent, claimed, recorded
 * or logged. Token-protected like every installation route.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { installationOf } from '../guard.ts';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ConnectorError } from '../../errors.ts';
import type { OutgoingMessage } from '../../mail/port.ts';
import { errorResponses, InvoiceParams } from '../schemas/common.ts';
import { PdfResponse, PreviewResponse } from '../schemas/previews.ts';

const security = [{ installationToken: [] }];

export async function previewRoutes(appBase: FastifyInstance): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const { previews } = app.deps;

  function previewsOrFail() {
    if (!previews) throw new ConnectorError('internal', 'previews are not wired in this process');
    return previews;
  }

  /** The message's KSeF XML attachment (composeMessage puts it after the PDF, as application/xml). */
  const xmlOf = (m: OutgoingMessage): { filename: string; size: number; sha256: string } | null => {
    const x = m.attachments.find((a) => a.contentType === 'application/xml');
    if (!x) return null;
    return { filename: x.filename, size: x.content.byteLength, sha256: createHash('sha256').update(x.content).digest('base64url') };
  };

  app.get(
    '/installations/:id/invoices/:invoiceId/preview',
    {
      schema: {
        tags: ['runs'],
        summary: 'The message a run would send for this invoice (headers, HTML, text, attachment), without sending or recording anything',
        params: InvoiceParams,
        security,
        response: { 200: PreviewResponse, ...errorResponses },
      },
    },
    async (request) => {
      installationOf(request);
      const p = await previewsOrFail().previewInvoice(request.params.id, request.params.invoiceId);
      const m = p.message;
      return {
        decision: { send: p.decision.send, ...(p.decision.reason ? { reason: p.decision.reason } : {}), ...(p.decision.detail ? { detail: p.decision.detail } : {}) },
        print: p.print,
        message: {
          messageId: m.messageId,
          from: m.from,
          replyTo: m.replyTo,
          to: m.to,
          subject: m.subject,
          html: m.html,
          text: m.text,
          headers: m.headers,
          attachment: p.attachment ? { filename: p.attachment.filename, size: p.attachment.pdf.byteLength, warnings: p.attachment.warnings } : null,
          ksefXml: xmlOf(m),
        },
      };
    },
  );

  app.get(
    '/installations/:id/invoices/:invoiceId/preview.pdf',
    {
      schema: {
        tags: ['runs'],
        summary: 'The PDF a run would attach to this invoice\'s message (422 when the print is "none" or cannot be produced)',
        params: InvoiceParams,
        security,
        response: { 200: PdfResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      installationOf(request);
      const a = await previewsOrFail().previewAttachment(request.params.id, request.params.invoiceId);
      return reply
        .type('application/pdf')
        .header('content-disposition', `inline; filename="${a.filename}"`)
        .send(Buffer.from(a.pdf.buffer, a.pdf.byteOffset, a.pdf.byteLength));
    },
  );
}
