/**
 * Previews of one invoice: the PDF and the message a run would send, nothing sent, claimed, recorded
 * or logged. Token-protected like every installation route.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ConnectorError } from '../../errors.ts';
import type { Installation } from '../../store/port.ts';
import { errorResponses, InvoiceParams } from '../schemas/common.ts';
import { PdfResponse, PreviewResponse } from '../schemas/previews.ts';

const security = [{ installationToken: [] }];

function bearer(request: { headers: FastifyRequest['headers'] }): string {
  const h = request.headers.authorization ?? '';
  const m = /^Bearer\s+(\S+)$/i.exec(h);
  return m ? m[1]! : '';
}

export async function previewRoutes(appBase: FastifyInstance): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const { service, previews } = app.deps;

  /** Resolves the installation from the URL and checks the caller's token belongs to it. */
  async function authorize(request: { headers: FastifyRequest['headers']; params: { id: string } }): Promise<Installation> {
    const token = bearer(request);
    if (!token) throw new ConnectorError('unauthorized', 'Missing bearer token', { field: 'authorization' });
    const installation = await service.authenticate(token);
    if (!installation) throw new ConnectorError('unauthorized', 'Invalid token', { field: 'authorization' });
    if (installation.id !== request.params.id) throw new ConnectorError('forbidden', 'This token belongs to another installation', { field: 'authorization' });
    return installation;
  }

  function previewsOrFail() {
    if (!previews) throw new ConnectorError('internal', 'previews are not wired in this process');
    return previews;
  }

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
      await authorize(request);
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
      await authorize(request);
      const a = await previewsOrFail().previewAttachment(request.params.id, request.params.invoiceId);
      return reply
        .type('application/pdf')
        .header('content-disposition', `inline; filename="${a.filename}"`)
        .send(Buffer.from(a.pdf.buffer, a.pdf.byteOffset, a.pdf.byteLength));
    },
  );
}
