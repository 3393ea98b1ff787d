/**
 * The sandbox's accounting rules for account.move: line amounts computed exactly in minor units
 * (Odoo's default "round per line"), tax and payment-term lines rebuilt from the product lines, move
 * totals, company-currency (`*_signed`) amounts from the currency rate valid on the invoice date, and
 * numbering on posting. Amounts are exposed as JSON numbers only when stored (minor / 100).
 */
import { nowUtc } from './orm.ts';
import type { Env, Orm, Raw } from './orm.ts';
import { divRound, minorToNumber, toScaled } from './util.ts';

export const PRODUCT_LINE_TYPES = ['product', 'line_section', 'line_note'];

export interface LineAmounts {
  subtotal: bigint;
  total: bigint;
  taxes: { taxId: number; amount: bigint }[];
}

/** price_subtotal = round(qty * price_unit * (1 - discount/100)), taxes rounded per line. */
export function computeLine(
  line: { quantity: unknown; price_unit: unknown; discount: unknown; tax_ids: unknown },
  taxPercent: (taxId: number) => number,
): LineAmounts {
  const qty = toScaled(numberOr0(line.quantity), 6);
  const price = toScaled(numberOr0(line.price_unit), 6);
  const disc = toScaled(numberOr0(line.discount), 4);
  // qty(1e6) * price(1e6) * (100e4 - disc)(1e4 per percent... ) -> minor units (1e2)
  const num = qty * price * (1_000_000n - disc) * 100n;
  const den = 1_000_000n * 1_000_000n * 1_000_000n;
  const subtotal = divRound(num, den);
  const taxes: { taxId: number; amount: bigint }[] = [];
  let total = subtotal;
  for (const taxId of (line.tax_ids as number[] | undefined) ?? []) {
    const pct = toScaled(taxPercent(taxId), 4);
    const amount = divRound(subtotal * pct, 1_000_000n);
    taxes.push({ taxId, amount });
    total += amount;
  }
  return { subtotal, total, taxes };
}

function numberOr0(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** The rate record valid on `date` for a currency (latest `name <= date`), as Odoo picks it. */
export function rateOn(orm: Orm, currencyId: number, date: string): Raw | null {
  let best: Raw | null = null;
  for (const r of orm.table('res.currency.rate').values()) {
    if (r.currency_id !== currencyId || typeof r.name !== 'string' || r.name > date) continue;
    if (!best || (r.name as string) > (best.name as string)) best = r;
  }
  return best;
}

export function companyCurrencyId(orm: Orm, companyId: number): number {
  const company = orm.get('res.company', companyId);
  return (company?.currency_id as number | undefined) ?? 0;
}

/** Recomputes product line amounts, rebuilds tax/payment-term lines and the move's totals. */
export function recomputeMove(orm: Orm, env: Env, moveId: number, moveLines?: Raw[]): void {
  const move = orm.get('account.move', moveId);
  if (!move) return;
  orm.withoutHooks(() => {
    const taxes = orm.table('account.tax');
    const percent = (id: number): number => numberOr0(taxes.get(id)?.amount);
    const lines = moveLines ?? [...orm.table('account.move.line').values()].filter((l) => l.move_id === moveId);
    const isRefund = move.move_type === 'out_refund' || move.move_type === 'in_invoice';
    const sign = isRefund ? -1n : 1n;
    const companyCur = companyCurrencyId(orm, move.company_id as number);
    const date = (move.invoice_date || move.date || orm.today) as string;
    const foreign = move.currency_id !== companyCur;
    const rate = foreign ? rateOn(orm, move.currency_id as number, date) : null;
    const inverse = rate ? toScaled(numberOr0(rate.inverse_company_rate), 6) : 1_000_000n;
    const toCompany = (minor: bigint): bigint => (foreign ? divRound(minor * inverse, 1_000_000n) : minor);

    let untaxed = 0n;
    let tax = 0n;
    // Odoo's signed (company-currency) amounts are the sums of the lines' balances, each line converted
    // and rounded on its own: the move balances to the grosz and the VAT per rate adds up to the VAT.
    let untaxedSigned = 0n;
    let taxSigned = 0n;
    const perTax = new Map<number, { amount: bigint; base: bigint }>();
    for (const line of lines) {
      line.move_name = move.name;
      line.date = move.date;
      if (line.display_type !== 'product') {
        if (line.display_type === 'line_section' || line.display_type === 'line_note') {
          line.price_subtotal = 0;
          line.price_total = 0;
        }
        continue;
      }
      const a = computeLine(line as never, percent);
      line.price_subtotal = minorToNumber(a.subtotal);
      line.price_total = minorToNumber(a.total);
      line.currency_id = move.currency_id;
      line.amount_currency = minorToNumber(-sign * a.subtotal);
      line.balance = minorToNumber(-sign * toCompany(a.subtotal));
      untaxed += a.subtotal;
      untaxedSigned += toCompany(a.subtotal);
      for (const t of a.taxes) {
        const cur = perTax.get(t.taxId) ?? { amount: 0n, base: 0n };
        cur.amount += t.amount;
        cur.base += a.subtotal;
        perTax.set(t.taxId, cur);
        tax += t.amount;
      }
    }
    // tax and payment-term lines are derived: rebuild them
    for (const line of lines) {
      if (line.display_type === 'tax' || line.display_type === 'payment_term') orm.table('account.move.line').delete(line.id);
    }
    let seq = 10_000;
    for (const [taxId, t] of [...perTax].sort((a, b) => a[0] - b[0])) {
      if (t.amount === 0n) continue;
      taxSigned += toCompany(t.amount);
      const taxRec = taxes.get(taxId);
      orm.insert(
        'account.move.line',
        {
          move_id: moveId,
          move_name: move.name,
          date: move.date,
          sequence: seq++,
          display_type: 'tax',
          name: (taxRec?.name as string | undefined) ?? 'VAT',
          tax_line_id: taxId,
          quantity: 0,
          price_unit: 0,
          price_subtotal: 0,
          price_total: 0,
          currency_id: move.currency_id,
          company_currency_id: companyCur,
          partner_id: move.commercial_partner_id,
          amount_currency: minorToNumber(-sign * t.amount),
          balance: minorToNumber(-sign * toCompany(t.amount)),
          create_date: move.create_date,
          write_date: move.write_date,
        },
        env,
      );
    }
    const total = untaxed + tax;
    orm.insert(
      'account.move.line',
      {
        move_id: moveId,
        move_name: move.name,
        date: move.date,
        sequence: seq,
        display_type: 'payment_term',
        name: (move.payment_reference as string) || '',
        quantity: 0,
        price_unit: 0,
        price_subtotal: 0,
        price_total: 0,
        currency_id: move.currency_id,
        company_currency_id: companyCur,
        partner_id: move.commercial_partner_id,
        date_maturity: move.invoice_date_due,
        amount_currency: minorToNumber(sign * total),
        balance: minorToNumber(sign * (untaxedSigned + taxSigned)),
        create_date: move.create_date,
        write_date: move.write_date,
      },
      env,
    );

    let residual = total;
    if (move.state === 'cancel') residual = 0n;
    else if (move.state === 'posted') {
      if (move.payment_state === 'paid' || move.payment_state === 'in_payment' || move.payment_state === 'reversed') residual = 0n;
      else if (move.payment_state === 'partial') residual = total - divRound(total, 2n);
    }
    move.amount_untaxed = minorToNumber(untaxed);
    move.amount_tax = minorToNumber(tax);
    move.amount_total = minorToNumber(total);
    move.amount_residual = minorToNumber(residual);
    move.amount_untaxed_signed = minorToNumber(sign * untaxedSigned);
    move.amount_tax_signed = minorToNumber(sign * taxSigned);
    move.amount_total_signed = minorToNumber(sign * (untaxedSigned + taxSigned));
    move.amount_residual_signed = minorToNumber(sign * toCompany(residual));
    move.company_currency_id = companyCur;
    move.invoice_currency_rate = foreign ? numberOr0(rate?.rate) : 1;
  });
}

/** Invoice number on posting: FV/YYYY/NNNNN for invoices, RFV/YYYY/NNNNN for credit notes. */
export function assignNumber(orm: Orm, move: Raw): string {
  const year = String(move.invoice_date || move.date || orm.today).slice(0, 4);
  const prefix = move.move_type === 'out_refund' ? 'RFV' : 'FV';
  const n = orm.nextSequence(`${prefix}/${year}`);
  return `${prefix}/${year}/${String(n).padStart(5, '0')}`;
}

/** account.move after write: numbering on post, then amounts. */
export function afterMoveWrite(orm: Orm, env: Env, ids: number[], vals: Record<string, unknown>): void {
  for (const id of ids) {
    const move = orm.get('account.move', id);
    if (!move) continue;
    if (move.state === 'posted') {
      orm.withoutHooks(() => {
        if (!move.invoice_date) move.invoice_date = orm.today;
        if (!move.date) move.date = move.invoice_date;
        if (!move.invoice_date_due) move.invoice_date_due = move.invoice_date;
        if (!move.name || move.name === '/') move.name = assignNumber(orm, move);
        if (!move.payment_reference && move.move_type === 'out_invoice') move.payment_reference = move.name;
      });
    }
    const touches = ['state', 'currency_id', 'invoice_date', 'date', 'invoice_line_ids', 'line_ids', 'move_type', 'payment_state', 'company_id'];
    if (touches.some((k) => k in vals) || move.amount_total === undefined) recomputeMove(orm, env, id);
  }
}

export function afterMoveCreate(orm: Orm, env: Env, ids: number[]): void {
  for (const id of ids) {
    const move = orm.get('account.move', id);
    if (!move) continue;
    orm.withoutHooks(() => {
      if (!move.name) move.name = '/';
      if (!move.date) move.date = move.invoice_date || orm.today;
      if (!move.commercial_partner_id && typeof move.partner_id === 'number') {
        const p = orm.get('res.partner', move.partner_id);
        move.commercial_partner_id = (p?.commercial_partner_id as number | undefined) ?? move.partner_id;
      }
      if (!move.company_currency_id) move.company_currency_id = companyCurrencyId(orm, move.company_id as number);
      if (!move.currency_id) move.currency_id = move.company_currency_id;
    });
    afterMoveWrite(orm, env, [id], { state: move.state });
  }
}

export function linesChanged(orm: Orm, env: Env, moveIds: Iterable<unknown>): void {
  for (const id of new Set(moveIds)) {
    if (typeof id !== 'number') continue;
    const move = orm.get('account.move', id);
    if (!move) continue;
    recomputeMove(orm, env, id);
    move.write_date = nowUtc(orm.clock());
  }
}

function formatAmount(orm: Orm, currencyId: unknown, amount: number, lang: string): string {
  const cur = typeof currencyId === 'number' ? orm.get('res.currency', currencyId) : undefined;
  const symbol = String(cur?.symbol ?? '');
  const pl = lang.startsWith('pl');
  const [int, frac] = Math.abs(amount).toFixed(2).split('.') as [string, string];
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, pl ? '\u00a0' : ',');
  const text = `${amount < 0 ? '-' : ''}${grouped}${pl ? ',' : '.'}${frac}`;
  return cur?.position === 'before' ? `${symbol}\u00a0${text}` : `${text}\u00a0${symbol}`;
}

/**
 * account.move.tax_totals as Odoo computes it (type binary, a JSON dict): 18+ shape
 * (`subtotals[].tax_groups[]`, `*_amount_currency` / `*_amount`) or 17's (`groups_by_subtotal`, `formatted_*`).
 * Document-currency amounts from the lines, company-currency ones from their balances.
 */
export function taxTotals(orm: Orm, move: Raw, env: Env, major: number): Record<string, unknown> | false {
  if (!['out_invoice', 'out_refund', 'in_invoice', 'in_refund', 'out_receipt', 'in_receipt'].includes(move.move_type as string)) return false;
  const lines = orm.childrenOf('account.move.line', 'move_id', move.id);
  const groups = new Map<number, { id: number; name: string; taxIds: Set<number>; base: bigint; baseCo: bigint; tax: bigint; taxCo: bigint }>();
  const abs = (v: unknown): bigint => {
    const x = toScaled(typeof v === 'number' ? v : 0, 2);
    return x < 0n ? -x : x;
  };
  let base = 0n,
    baseCo = 0n;
  for (const l of lines) {
    if (l.display_type === 'product') {
      base += abs(l.price_subtotal);
      baseCo += abs(l.balance);
      for (const taxId of (l.tax_ids as number[] | undefined) ?? []) {
        const tax = orm.get('account.tax', taxId);
        const gid = (tax?.tax_group_id as number | undefined) ?? 0;
        const group = orm.get('account.tax.group', gid);
        const g = groups.get(gid) ?? { id: gid, name: String(group?.name ?? ''), taxIds: new Set<number>(), base: 0n, baseCo: 0n, tax: 0n, taxCo: 0n };
        g.base += abs(l.price_subtotal);
        g.baseCo += abs(l.balance);
        g.taxIds.add(taxId);
        groups.set(gid, g);
      }
    }
  }
  let tax = 0n,
    taxCo = 0n;
  for (const l of lines) {
    if (l.display_type !== 'tax') continue;
    const t = orm.get('account.tax', l.tax_line_id as number);
    const g = groups.get((t?.tax_group_id as number | undefined) ?? 0);
    if (!g) continue;
    g.tax += abs(l.amount_currency);
    g.taxCo += abs(l.balance);
    tax += abs(l.amount_currency);
    taxCo += abs(l.balance);
  }
  const n = (x: bigint): number => minorToNumber(x);
  const lang = typeof env.context.lang === 'string' ? env.context.lang : 'en_US';
  const subtotalName = lang.startsWith('pl') ? 'Kwota bez podatku' : 'Untaxed Amount';
  const list = [...groups.values()].sort((a, b) => a.id - b.id);
  if (major === 17) {
    const fmt = (x: bigint): string => formatAmount(orm, move.currency_id, n(x), lang);
    return {
      amount_untaxed: n(base),
      amount_total: n(base + tax),
      formatted_amount_total: fmt(base + tax),
      formatted_amount_untaxed: fmt(base),
      groups_by_subtotal: {
        [subtotalName]: list.map((g) => ({
          group_key: g.id,
          tax_group_id: g.id,
          tax_group_name: g.name,
          tax_group_amount: n(g.tax),
          tax_group_base_amount: n(g.base),
          formatted_tax_group_amount: fmt(g.tax),
          formatted_tax_group_base_amount: fmt(g.base),
          hide_base_amount: false,
        })),
      },
      subtotals: [{ name: subtotalName, amount: n(base), formatted_amount: fmt(base) }],
      subtotals_order: [subtotalName],
      display_tax_base: false,
    };
  }
  const foreign = move.currency_id !== move.company_currency_id;
  return {
    currency_id: move.currency_id,
    currency_pd: 0.01,
    company_currency_id: move.company_currency_id,
    company_currency_pd: 0.01,
    has_tax_groups: list.length > 0,
    subtotals: [
      {
        tax_groups: list.map((g) => ({
          id: g.id,
          involved_tax_ids: [...g.taxIds].sort((a, b) => a - b),
          tax_amount_currency: n(g.tax),
          tax_amount: n(g.taxCo),
          base_amount_currency: n(g.base),
          base_amount: n(g.baseCo),
          display_base_amount_currency: n(g.base),
          display_base_amount: n(g.baseCo),
          group_name: g.name,
          group_label: false,
        })),
        tax_amount_currency: n(tax),
        tax_amount: n(taxCo),
        base_amount_currency: n(base),
        base_amount: n(baseCo),
        name: subtotalName,
      },
    ],
    base_amount_currency: n(base),
    base_amount: n(baseCo),
    tax_amount_currency: n(tax),
    tax_amount: n(taxCo),
    same_tax_base: true,
    total_amount_currency: n(base + tax),
    total_amount: n(baseCo + taxCo),
    display_in_company_currency: foreign,
  };
}
