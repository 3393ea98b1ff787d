/**
 * Previews of one invoice, on both surfaces: finding it by number as typed, the message and the PDF a
 * run would send, nothing sent, claimed, recorded or logged. The decision comes with its sentence in
 * the caller's language (Accept-Language, or the page's).
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { installationOf } from '../plugins/auth.ts';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { OutgoingMessage } from '../../mail/port.ts';
import { render } from '../../messages/catalogue.ts';
import { requestLang } from '../../messages/http.ts';
import { decisionMessage } from '../../messages/logs.ts';
import { errorResponses, InstallationParams, InvoiceParams } from '../schemas/common.ts';
import { InvoiceSearchQuery, InvoiceSearchResponse, PdfResponse, PreviewResponse } from '../schemas/previews.ts';
import { onSurface, type SurfaceOptions } from './surface.ts';

export async function previewRoutes(appBase: FastifyInstance, { surface }: SurfaceOptions): Promise<void> {
  const app = appBase.withTypeProvider<TypeBoxTypeProvider>();
  const { previews } = app;

  /** The message's KSeF XML attachment (composeMessage puts it after the PDF, as application/xml). */
  const xmlOf = (m: OutgoingMessage): { filename: string; size: number; sha256: string } | null => {
    const x = m.attachments.find((a) => a.contentType === 'application/xml');
    if (!x) return null;
    return { filename: x.filename, size: x.content.byteLength, sha256: createHash('sha256').update(x.content).digest('base64url') };
  };

  app.get(
    '/installations/:id/invoices/search',
    {
      schema: onSurface(surface, {
        tags: ['runs'],
        summary: 'Invoices whose number (or customer, or date) matches what was typed, for choosing one to preview',
        params: InstallationParams,
        querystring: InvoiceSearchQuery,
        response: { 200: InvoiceSearchResponse, ...errorResponses },
      }),
    },
    async (request) => {
      installationOf(request);
      return { invoices: await previews.searchInvoices(request.params.id, request.query.q ?? '', request.query.limit ?? 10) };
    },
  );

  app.get(
    '/installations/:id/invoices/:invoiceId/preview',
    {
      schema: onSurface(surface, {
        tags: ['runs'],
        summary: 'The message a run would send for this invoice (headers, HTML, text, attachment), without sending or recording anything',
        params: InvoiceParams,
        response: { 200: PreviewResponse, ...errorResponses },
      }),
    },
    async (request) => {
      installationOf(request);
      const p = await previews.previewInvoice(request.params.id, request.params.invoiceId);
      const m = p.message;
      const lang = requestLang(request);
      const said = decisionMessage(lang, p.decision);
      const warnings = (p.attachment?.warnings ?? []).map((w) => ({ code: w.code, params: w.params, text: render(lang, w.code, w.params) }));
      const attachment = p.attachment ? { filename: p.attachment.filename, size: p.attachment.pdf.byteLength, warnings } : null;
      return {
        decision: {
          send: p.decision.send,
          ...(p.decision.reason ? { reason: p.decision.reason } : {}),
          ...(p.decision.detail ? { detail: p.decision.detail } : {}),
          code: said.code,
          params: said.params,
          text: said.text,
        },
        print: p.print,
        attachment,
        message: {
          messageId: m.messageId,
          from: m.from,
          replyTo: m.replyTo,
          to: m.to,
          subject: m.subject,
          html: m.html,
          text: m.text,
          headers: m.headers,
          attachment,
          ksefXml: xmlOf(m),
        },
      };
    },
  );

  app.get(
    '/installations/:id/invoices/:invoiceId/preview.pdf',
    {
      schema: onSurface(surface, {
        tags: ['runs'],
        summary: 'The PDF a run would attach to this invoice\'s message (422 when the print is "none" or cannot be produced)',
        params: InvoiceParams,
        response: { 200: PdfResponse, ...errorResponses },
      }),
    },
    async (request, reply) => {
      installationOf(request);
      const a = await previews.previewAttachment(request.params.id, request.params.invoiceId);
      return reply
        .type('application/pdf')
        .header('content-disposition', `inline; filename="${a.filename.replace(/["\\\r\n]/g, '_')}"`)
        .send(Buffer.from(a.pdf.buffer, a.pdf.byteOffset, a.pdf.byteLength));
    },
  );
}
