/**
 * Global test setup. Services shared by all test files are started here once and described to the
 * files through `provide` (see test/setup/env.ts for the typed accessors).
 */
import type { TestProject } from 'vitest/node';

export default async function setup(_project: TestProject): Promise<() => Promise<void>> {
  return async () => {};
}
