/**
 * How a host adapter pages a run's listing (`HostErp.listDueInvoices`), stated once for every adapter:
 * a first page of `firstPageSize` when that is smaller, then pages of `pageSize`, keyset on the id.
 */
import { ConnectorError } from '../errors.ts';
import type { DueInvoiceQuery } from './port.ts';

/** The limit of the first page of a listing; throws a validation error naming the field for a bad size. */
export function firstPageLimit(query: Pick<DueInvoiceQuery, 'pageSize' | 'firstPageSize'>): number {
  positiveSize('pageSize', query.pageSize);
  if (query.firstPageSize === undefined) return query.pageSize;
  positiveSize('firstPageSize', query.firstPageSize);
  return Math.min(query.pageSize, query.firstPageSize);
}

function positiveSize(field: 'pageSize' | 'firstPageSize', size: number): void {
  if (!Number.isSafeInteger(size) || size < 1) throw new ConnectorError('validation', `${field} must be a positive integer, got ${size}`, { field });
}
