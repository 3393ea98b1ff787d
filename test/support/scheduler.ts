/** A scheduler (Agenda on the real PostgreSQL) as a connector process composes it, for tests of the scheduler and of split runs. */
import { createAgendaScheduler, type Scheduler } from '../../src/jobs/scheduler/agenda.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Store } from '../../src/store/port.ts';

/** A scheduler on `url` named `name` (a process), runs doing nothing; `extra` adds what the test needs (runPage, a faster poll). */
export function schedulerOn(url: string, store: Store, name: string, extra: Partial<Parameters<typeof createAgendaScheduler>[0]> = {}): Promise<Scheduler> {
  return createAgendaScheduler({
    database: { kind: 'postgres', url },
    store,
    run: async () => null,
    clock: () => new Date(),
    logger: createLogger('silent'),
    name,
    processEvery: 60_000,
    ...extra,
  });
}
