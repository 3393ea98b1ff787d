/**
 * A page's templates in growing batches (src/jobs/run/templates.ts `launchWithTemplates`): the first
 * delivery waits for one template, the next batch is rendered while the current one is handed over, and
 * what a stop or a failed batch leaves is given back whole.
 */
import { describe, expect, it } from 'vitest';
import type { Invoice, RenderedTemplate } from '../../src/domain.ts';
import { launchWithTemplates, templateBatches } from '../../src/jobs/run/templates.ts';

const items = (n: number) => Array.from({ length: n }, (_, i) => ({ invoice: { id: String(i + 1) } as Invoice }));
const ids = (xs: { invoice: Invoice }[]) => xs.map((x) => x.invoice.id);
const template = (id: string): RenderedTemplate => ({ subject: `Faktura ${id}`, html: `<p>${id}</p>`, lang: 'pl_PL' });

/** A renderer that records each batch as it starts and ends, and resolves when told to. */
function recordingRenderer(fail?: number) {
  const journal: string[] = [];
  let batch = 0;
  const render = async (xs: { invoice: Invoice }[]) => {
    const n = ++batch;
    journal.push(`render ${n} (${xs.length})`);
    await new Promise((r) => setTimeout(r, 5));
    journal.push(`rendered ${n}`);
    if (n === fail) throw new Error(`batch ${n} failed`);
    return new Map(xs.map((x) => [x.invoice.id, template(x.invoice.id)]));
  };
  return { render, journal };
}

describe('a page’s templates are rendered in growing batches beside its deliveries', () => {
  it('batches of 1, 4, 16, 64 and then 64', () => {
    expect(templateBatches(items(200)).map((b) => b.length)).toEqual([1, 4, 16, 64, 64, 51]);
    expect(templateBatches(items(3)).map((b) => b.length)).toEqual([1, 2]);
    expect(templateBatches([])).toEqual([]);
  });

  it('the first invoice is launched after one template; the next batch renders while the current is handed over', async () => {
    const { render, journal } = recordingRenderer();
    const launched: { id: string; subject: string | undefined }[] = [];
    const left = await launchWithTemplates(
      items(6),
      render,
      async (item, t) => {
        journal.push(`launch ${item.invoice.id}`);
        launched.push({ id: item.invoice.id, subject: t?.subject });
      },
      () => false,
    );
    expect(left).toBeNull();
    expect(launched).toEqual(['1', '2', '3', '4', '5', '6'].map((id) => ({ id, subject: `Faktura ${id}` })));
    expect(journal.slice(0, 4)).toEqual(['render 1 (1)', 'rendered 1', 'render 2 (4)', 'launch 1']);
    expect(journal.indexOf('render 3 (1)')).toBeLessThan(journal.indexOf('launch 2'));
  });

  it('a run that stops: what was not launched comes back, after the batch being rendered settled', async () => {
    const { render, journal } = recordingRenderer();
    let launches = 0;
    const left = await launchWithTemplates(
      items(21),
      render,
      async () => {
        launches++;
      },
      () => launches >= 3,
    );
    expect(left && 'stopped' in left ? ids(left.stopped) : left).toEqual(['4', '5', ...Array.from({ length: 16 }, (_, i) => String(i + 6))]);
    expect(journal.at(-1)).toBe('rendered 3');
  });

  it('a batch whose templates failed: it and every later batch come back with the error, none of them launched', async () => {
    const { render } = recordingRenderer(2);
    const launched: string[] = [];
    const left = await launchWithTemplates(
      items(8),
      render,
      async (item) => {
        launched.push(item.invoice.id);
      },
      () => false,
    );
    expect(launched).toEqual(['1']);
    expect(left && 'failed' in left ? { error: (left.failed as Error).message, rest: ids(left.rest) } : left).toEqual({
      error: 'batch 2 failed',
      rest: ['2', '3', '4', '5', '6', '7', '8'],
    });
  });
});
