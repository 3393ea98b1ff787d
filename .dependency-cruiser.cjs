/** Dependency rules of the house (CONTRIBUTING.md, house rules). `npm run lint` checks them. */
module.exports = {
  forbidden: [
    {
      name: 'domain-core-has-no-io',
      comment: 'src/domain.ts and the pure rules import no I/O library and no adapter.',
      severity: 'error',
      from: { path: '^src/(domain\\.ts|settings/|jobs/(rules|schedule)\\.ts)' },
      to: { path: 'node_modules/(pg|mongodb|axios|nodemailer|imapflow|fastify|agenda|@agendajs|smtp-server|pdfkit|pdf-lib)|^node:(fs|net|http|https|child_process)' },
    },
    {
      name: 'http-does-not-reach-adapter-internals',
      comment: 'Routes talk to ports and the registry, never to an adapter module directly.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/(connector/(odoo|sandbox|tryton)|store/(postgres|mongodb))/' },
    },
    {
      name: 'adapters-do-not-import-each-other',
      severity: 'error',
      from: { path: '^src/connector/(odoo|tryton)/' },
      to: { path: '^src/connector/sandbox/' },
    },
    { name: 'no-circular', severity: 'warn', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
