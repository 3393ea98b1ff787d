/** Preview responses: the decision and the message a run would send, nothing sent or recorded. */
import { Type } from 'typebox';

/** A render warning a run would log, in the caller's language (codes: print.warning.* in src/messages/catalogue.ts). */
const PrintWarningView = Type.Object({
  code: Type.String({ description: 'message code, e.g. print.warning.no_exchange_rate' }),
  params: Type.Record(Type.String(), Type.String()),
  text: Type.String({ description: "the warning as a sentence, in the caller's language" }),
});

export const PreviewResponse = Type.Object({
  decision: Type.Object({
    send: Type.Boolean({ description: 'true when a run would send this invoice now' }),
    reason: Type.Optional(Type.String({ description: 'why a run would not send it now (selection rule)' })),
    detail: Type.Optional(Type.String()),
    code: Type.String({ description: 'message code of the decision (src/messages/catalogue.ts)' }),
    params: Type.Record(Type.String(), Type.Unknown()),
    text: Type.String({ description: "the decision as a sentence, in the caller's language (Accept-Language, or the page's)" }),
  }),
  attachment: Type.Union(
    [Type.Object({ filename: Type.String(), size: Type.Integer({ description: 'bytes' }), warnings: Type.Array(PrintWarningView) }), Type.Null()],
    {
      description: 'the same as message.attachment',
    },
  ),
  print: Type.String({ description: 'the print chosen by the invoice currency: standard:<id>, user:<id> or none' }),
  message: Type.Object({
    messageId: Type.String(),
    from: Type.Object({ name: Type.Union([Type.String(), Type.Null()]), address: Type.String() }),
    replyTo: Type.Union([Type.String(), Type.Null()]),
    to: Type.Array(Type.String()),
    subject: Type.String(),
    html: Type.String(),
    text: Type.String(),
    headers: Type.Record(Type.String(), Type.String()),
    attachment: Type.Union([
      Type.Object({
        filename: Type.String(),
        size: Type.Integer({ description: 'bytes' }),
        warnings: Type.Array(PrintWarningView, { description: 'render warnings a run would log' }),
      }),
      Type.Null(),
    ]),
    ksefXml: Type.Union(
      [
        Type.Object({
          filename: Type.String(),
          size: Type.Integer({ description: 'bytes' }),
          sha256: Type.String({ description: 'SHA-256 of the XML bytes, Base64URL (what the KSeF QR code carries)' }),
        }),
        Type.Null(),
      ],
      { description: 'the KSeF FA(3) XML a run attaches next to the PDF (setting attachKsefXml), unchanged from the host' },
    ),
  }),
});

export const InvoiceSearchQuery = Type.Object(
  {
    // Optional: an empty search finds nothing (an empty list, not a 400).
    q: Type.Optional(Type.String({ maxLength: 64, description: 'number, customer or date as typed' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, default: 10 })),
  },
  { additionalProperties: false },
);

export const InvoiceSearchResponse = Type.Object({
  invoices: Type.Array(
    Type.Object({
      id: Type.String(),
      number: Type.Union([Type.String(), Type.Null()]),
      customer: Type.Union([Type.String(), Type.Null()]),
      date: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
});

/** OpenAPI description of the PDF answer (the body is the raw PDF, not serialised). */
export const PdfResponse = {
  description: 'The PDF a run would attach',
  content: { 'application/pdf': { schema: { type: 'string', format: 'binary' } } },
};
