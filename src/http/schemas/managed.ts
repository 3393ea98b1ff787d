/**
 * Connector-managed e-mail accounts and templates (hosts without their own, e.g. Tryton). Shapes only;
 * the rules (addresses, host names, placeholders, IMAP needing a password) live in src/connector-managed.
 * Passwords are write-only: bodies may carry them, responses only say `{ set }`.
 */
import { Type } from 'typebox';

const Tls = Type.Union([Type.Literal('none'), Type.Literal('starttls'), Type.Literal('tls')]);
const Password = Type.Union([Type.String({ maxLength: 500, writeOnly: true }), Type.Null()], {
  description: 'write-only; left out = keep the stored one, null or "" = none',
});

const ServerInput = Type.Object(
  {
    host: Type.Optional(Type.String({ maxLength: 255 })),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    tls: Type.Optional(Tls),
    user: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
    password: Type.Optional(Password),
  },
  { additionalProperties: false },
);

const DkimInput = Type.Object(
  {
    domain: Type.Optional(Type.String({ maxLength: 253, description: "signing domain (d=): the sender's domain or a parent of it" })),
    selector: Type.Optional(Type.String({ maxLength: 63, description: 'selector (s=): the record is <selector>._domainkey.<domain>' })),
    privateKey: Type.Optional(
      Type.String({ maxLength: 20_000, writeOnly: true, description: 'PEM, RSA ≥ 1024 bits (2048 recommended); write-only, left out = keep the stored one' }),
    ),
  },
  { additionalProperties: false },
);

export const AccountBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    active: Type.Optional(Type.Boolean()),
    fromAddress: Type.Optional(Type.String({ maxLength: 320 })),
    smtp: Type.Optional(ServerInput),
    imap: Type.Optional(Type.Union([ServerInput, Type.Null()], { description: 'null removes IMAP (no Drafts, no Sent copy)' })),
    dkim: Type.Optional(Type.Union([DkimInput, Type.Null()], { description: 'DKIM signing of every message from this account; null removes it' })),
  },
  { additionalProperties: false },
);

const ServerView = Type.Object({
  host: Type.String(),
  port: Type.Integer(),
  tls: Tls,
  user: Type.Union([Type.String(), Type.Null()]),
  password: Type.Object({ set: Type.Boolean() }),
});

export const AccountView = Type.Object({
  id: Type.String({ description: "`managed:<uuid>`; use it as the settings' emailAccount" }),
  name: Type.String(),
  active: Type.Boolean(),
  fromAddress: Type.String(),
  smtp: ServerView,
  imap: Type.Union([ServerView, Type.Null()]),
  dkim: Type.Union([
    Type.Object({
      domain: Type.String(),
      selector: Type.String(),
      privateKey: Type.Object({ set: Type.Boolean() }),
      dnsRecord: Type.Object({ name: Type.String(), type: Type.Literal('TXT'), value: Type.String() }, { description: 'publish this TXT record in DNS' }),
    }),
    Type.Null(),
  ]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const Texts = Type.Object(
  {
    pl: Type.Optional(Type.String({ maxLength: 200_000 })),
    en: Type.Optional(Type.Union([Type.String({ maxLength: 200_000 }), Type.Null()])),
  },
  { additionalProperties: false },
);

export const TemplateBody = Type.Object(
  {
    name: Type.Optional(Type.String({ maxLength: 200 })),
    subject: Type.Optional(Texts),
    html: Type.Optional(Texts),
  },
  { additionalProperties: false },
);

const TextsView = Type.Object({ pl: Type.String(), en: Type.Union([Type.String(), Type.Null()]) });

export const TemplateView = Type.Object({
  id: Type.String({ description: "`connector:managed:<uuid>`; use it as the settings' emailTemplate" }),
  name: Type.String(),
  subject: TextsView,
  html: TextsView,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const AccountParams = Type.Object({ id: Type.String({ format: 'uuid' }), accountId: Type.String({ minLength: 1, maxLength: 100 }) });
export const TemplateParams = Type.Object({ id: Type.String({ format: 'uuid' }), templateId: Type.String({ minLength: 1, maxLength: 100 }) });

export const Placeholders = Type.Object({
  placeholders: Type.Array(Type.Object({ name: Type.String(), help: Type.String() })),
});
