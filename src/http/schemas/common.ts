/** Schemas shared by routes: the error body, ids, paging. One folder of schemas drives validation, types and OpenAPI. */
import { Type, type Static } from 'typebox';

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable error code (see src/errors.ts)' }),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'the offending field, as a path in the request' })),
      fields: Type.Optional(
        Type.Array(
          Type.Object({
            field: Type.String(),
            code: Type.Optional(Type.String({ description: 'message code (src/messages/catalogue.ts), e.g. settings.time_format' })),
            params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'the parameters of the message' })),
            message: Type.String({ description: 'the sentence, in the language of Accept-Language (pl or en; default en)' }),
          }),
        ),
      ),
    }),
  },
  { $id: 'ErrorBody' },
);
export type ErrorBody = Static<typeof ErrorBody>;

export const InstallationParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const InvoiceParams = Type.Object({ id: Type.String({ format: 'uuid' }), invoiceId: Type.String({ minLength: 1, maxLength: 64 }) });

export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  422: ErrorBody,
  502: ErrorBody,
};
