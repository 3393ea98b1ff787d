/**
 * A settings change whose body failed the JSON schema still gets every other check: the fields the
 * schema refused are taken out, the rest is checked as usual (rules, then the live host), and one
 * answer names every problem. Used by the installation API and the settings page's API alike (their
 * routes set `attachValidation: true`). Nothing is saved when anything fails.
 */
import type { FastifyRequest } from 'fastify';
import type { FieldError } from '../../errors.ts';
import { schemaProblems } from '../../messages/validation.ts';
import type { SettingsInput } from '../../settings/schema.ts';

function removePath(obj: Record<string, unknown>, path: string): void {
  const keys = path.split('.');
  let o: unknown = obj;
  for (const k of keys.slice(0, -1)) {
    if (o === null || typeof o !== 'object') return;
    o = (o as Record<string, unknown>)[k];
  }
  if (o !== null && typeof o === 'object') delete (o as Record<string, unknown>)[keys[keys.length - 1]!];
}

/**
 * The input to check and the schema problems found, or the request's own validation error when the
 * body cannot be salvaged (not an object, or still invalid once the refused fields are removed).
 */
export function settingsInputOf(request: FastifyRequest): { input: SettingsInput; shapeProblems: FieldError[] } {
  const error = (request as FastifyRequest & { validationError?: Error & { validation?: unknown[]; validationContext?: string } }).validationError;
  if (!error) return { input: request.body as SettingsInput, shapeProblems: [] };
  if (error.validationContext !== 'body') throw error;
  const body = request.body;
  const validation = (error.validation ?? []) as Parameters<typeof schemaProblems>[0];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw error;
  const problems = schemaProblems(validation, 'body');
  const copy = structuredClone(body) as Record<string, unknown>;
  for (const p of problems) {
    if (p.field === 'body' || p.field === '') throw error;
    removePath(copy, p.field);
  }
  if (!request.validateInput(copy, 'body')) throw error;
  return { input: copy as SettingsInput, shapeProblems: problems };
}
