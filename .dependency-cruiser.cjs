/**
 * Dependency rules of the house (CONTRIBUTING.md, docs/architecture.md). `npm run lint` checks them over
 * src/ and sandbox/; every rule is an error.
 */
const CORE = '^src/(domain\\.ts|decimal\\.ts|settings/|jobs/rules/)';
module.exports = {
  forbidden: [
    {
      name: 'domain-core-has-no-io',
      comment: 'The domain core (src/domain.ts, src/decimal.ts, the settings schema, the pure rules) imports no I/O library.',
      severity: 'error',
      from: { path: CORE },
      to: { path: 'node_modules/(pg|mongodb|axios|nodemailer|imapflow|fastify|agenda|@agendajs|smtp-server|pdfkit|pdf-lib)|^node:(fs|net|http|https|child_process)' },
    },
    {
      name: 'domain-core-imports-no-adapter',
      comment: 'The domain core imports nothing outside the core but the ports\' types, the error codes and the message catalogue: no adapter, no use case.',
      severity: 'error',
      from: { path: CORE },
      to: { path: '^src/', pathNot: `${CORE}|^src/[a-z-]+/port\\.ts$|^src/errors\\.ts$|^src/messages/` },
    },
    {
      name: 'src-does-not-import-sandbox',
      comment: 'The demo world (sandbox/) is not part of the connector: it imports src/boot.ts, never the other way round.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^sandbox/' },
    },
    {
      name: 'sandbox-world-is-self-contained',
      comment: 'The sandbox host and the SMTP sink are outside systems: they import nothing from src/ (only demo.ts and start.ts boot the connector).',
      severity: 'error',
      from: { path: '^sandbox/(host|mail-sink)/' },
      to: { path: '^src/' },
    },
    {
      name: 'http-does-not-reach-adapter-internals',
      comment: 'Routes talk to ports, use cases and the host registry, never to an adapter module directly.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/(connector/[^/]+|store/(postgres|mongodb))/' },
    },
    {
      name: 'host-adapters-do-not-import-each-other',
      comment: 'Each host adapter (src/connector/<kind>/) stands alone: shared code lives in src/connector/ itself.',
      severity: 'error',
      from: { path: '^src/connector/([^/]+)/' },
      to: { path: '^src/connector/[^/]+/', pathNot: '^src/connector/$1/' },
    },
    {
      name: 'store-adapters-do-not-import-each-other',
      severity: 'error',
      from: { path: '^src/store/(postgres|mongodb)/' },
      to: { path: '^src/store/(postgres|mongodb)/', pathNot: '^src/store/$1/' },
    },
    {
      name: 'adapters-do-not-import-use-cases',
      comment: 'Layers point down: the adapters (host, store, mail, render) never import the use cases, the scheduler, the HTTP surface or the composition root.',
      severity: 'error',
      from: { path: '^src/(connector|store|mail|render)/' },
      to: { path: '^src/(jobs|installations|webhooks|connector-managed|http)/|^src/(compose|boot|main)\\.ts$' },
    },
    {
      name: 'only-the-composition-root-imports-http',
      comment: 'The HTTP surface is the driving side: nothing below it imports it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(http/|compose\\.ts$|boot\\.ts$|main\\.ts$)' },
      to: { path: '^src/http/' },
    },
    {
      name: 'nothing-imports-the-composition-root',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(boot|main)\\.ts$' },
      to: { path: '^src/(compose|boot|main)\\.ts$' },
    },
    { name: 'no-circular', comment: 'No import cycles, type-only imports included.', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
