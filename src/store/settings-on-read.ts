/**
 * The installations' settings between the adapters and the stored row: validated and filled with the
 * defaults of absent optional settings on every read (`src/settings/stored.ts`), with the settings
 * version stored beside them (column `settings_version`, field `settingsVersion`; rows from before it
 * read as version 1). Both adapters use these two functions, so neither casts a stored object blindly.
 */
import { ConnectorError, isConnectorError } from '../errors.ts';
import { SETTINGS_VERSION, readStoredSettings, settingsProblem } from '../settings/stored.ts';
import type { Settings } from '../settings/schema.ts';

/** The settings of a stored row; a row the schema refuses is `internal`, naming the installation and the field. */
export function settingsFromStore(installationId: string, stored: unknown, storedVersion: unknown): Settings {
  const version = storedVersion === null || storedVersion === undefined ? 1 : Number(storedVersion);
  const read = readStoredSettings(stored, version);
  if (read.ok) return read.settings;
  const field = read.field ? `settings.${read.field}` : 'settings';
  throw new ConnectorError(
    'internal',
    `Installation ${installationId}: the stored ${field} ${read.message} (settings version ${version}); the stored row needs correcting`,
    {
      field,
      detail: { installationId, settingsVersion: version },
    },
  );
}

/**
 * The installations of a listing whose settings read: a row whose stored settings are refused is left
 * out and reported through `log` (with the error naming it and the field), so one broken row does not
 * stop the scheduling of every other installation; reading that installation by id still fails.
 */
export function readableInstallations<R, T>(rows: readonly R[], read: (row: R) => T, log: (msg: string) => void): T[] {
  const out: T[] = [];
  for (const row of rows) {
    try {
      out.push(read(row));
    } catch (e) {
      if (!isConnectorError(e, 'internal') || e.detail?.['installationId'] === undefined) throw e;
      log(`store: installation left out of a listing: ${e.message}`);
    }
  }
  return out;
}

/** What an adapter stores for `settings`: the object and the version it is written under; settings the schema refuses are `validation`. */
export function settingsForStore(settings: Settings): { settings: Settings; version: number } {
  const problem = settingsProblem(settings);
  if (problem) {
    const field = problem.field ? `settings.${problem.field}` : 'settings';
    throw new ConnectorError('validation', `${field} ${problem.message}`, { field });
  }
  return { settings, version: SETTINGS_VERSION };
}
