/**
 * Settings as the store reads them back: the stored object, with the settings version it was written
 * under, is brought up to `SETTINGS_VERSION` (`SETTINGS_UPGRADES`), its absent optional settings are
 * filled from `defaultSettings()`, and the result is checked against `SettingsSchema`. So a new optional
 * setting needs no migration (rows written before it read with its default), and a stored value the
 * schema refuses is reported with its field, never handed out as if it were valid. Pure.
 */
import { Compile } from 'typebox/compile';
import { SettingsSchema, defaultSettings, type Settings } from './schema.ts';

const compileSettings = () => Compile(SettingsSchema);
/** The schema compiled once, on first use (every read of an installation checks its settings). */
let compiled: ReturnType<typeof compileSettings> | null = null;
const validator = () => (compiled ??= compileSettings());

/**
 * The version of the settings' shape this code writes and reads. A new optional setting does not
 * change it (its default fills older rows); bump it only for a change a default cannot express (a
 * setting renamed, re-typed or removed), with the step that upgrades the previous version's object.
 */
export const SETTINGS_VERSION = 1;

/** `SETTINGS_UPGRADES[n]` turns a version-n settings object into a version n+1 one. None yet. */
export const SETTINGS_UPGRADES: Readonly<Record<number, (stored: Record<string, unknown>) => Record<string, unknown>>> = {};

export type StoredSettingsResult = { ok: true; settings: Settings } | { ok: false; field: string; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

interface ObjectSchema {
  properties: Record<string, unknown>;
  required?: readonly string[];
}

/** `stored` with each optional property it lacks taken from `defaults`, in nested objects too; required ones are left absent. */
function fillOptional(schema: ObjectSchema, stored: Record<string, unknown>, defaults: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...stored };
  const required = new Set(schema.required ?? []);
  for (const [key, sub] of Object.entries(schema.properties)) {
    const value = out[key];
    if (value === undefined) {
      if (!required.has(key) && defaults[key] !== undefined) out[key] = structuredClone(defaults[key]);
    } else if (isObject(value) && isObject(sub) && isObject((sub as { properties?: unknown }).properties) && isObject(defaults[key])) {
      out[key] = fillOptional(sub as unknown as ObjectSchema, value, defaults[key]);
    }
  }
  return out;
}

/** `/schedule/until` -> `schedule.until` (the API's field paths). */
const fieldOf = (pointer: string): string => pointer.replace(/^\//, '').split('/').filter(Boolean).join('.');

/** The first problem TypeBox reports, as a field path and a sentence. */
function firstProblem(value: unknown): { field: string; message: string } {
  const [error] = validator().Errors(value);
  if (!error) return { field: '', message: 'does not match the settings schema' };
  // An unknown property fails the `additionalProperties: false` of its parent.
  if (error.schemaPath.endsWith('/additionalProperties')) return { field: fieldOf(error.instancePath), message: 'is not a setting' };
  const params = (error as { params?: { requiredProperties?: string[] } }).params ?? {};
  const base = fieldOf(error.instancePath);
  // A missing property is reported on its parent; name the property itself.
  const missing = params.requiredProperties?.[0];
  if (missing) return { field: base ? `${base}.${missing}` : missing, message: 'is missing' };
  return { field: base, message: error.message };
}

/** Reads stored settings written under `version` (see the module comment). */
export function readStoredSettings(stored: unknown, version: number): StoredSettingsResult {
  if (!Number.isInteger(version) || version < 1) return { ok: false, field: '', message: `unknown settings version ${String(version)}` };
  if (version > SETTINGS_VERSION) {
    return { ok: false, field: '', message: `written under settings version ${version}, newer than this release reads (${SETTINGS_VERSION})` };
  }
  if (!isObject(stored)) return { ok: false, field: '', message: 'is not an object' };
  let current = stored;
  for (let v = version; v < SETTINGS_VERSION; v++) {
    const upgrade = SETTINGS_UPGRADES[v];
    if (!upgrade) return { ok: false, field: '', message: `no upgrade from settings version ${v}` };
    current = upgrade(current);
  }
  const filled = fillOptional(SettingsSchema as unknown as ObjectSchema, current, defaultSettings() as unknown as Record<string, unknown>);
  if (!validator().Check(filled)) return { ok: false, ...firstProblem(filled) };
  return { ok: true, settings: filled as Settings };
}

/** The first problem of settings about to be stored, or null when the schema accepts them. */
export function settingsProblem(settings: unknown): { field: string; message: string } | null {
  return validator().Check(settings) ? null : firstProblem(settings);
}
