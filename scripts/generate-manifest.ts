/**
 * Writes manifests/invoice-courier.json from the settings schema and src/manifest/host-manifest.ts
 * (`npm run manifest`). The version comes from package.json; a test fails when the file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildManifest, manifestJson } from '../src/manifest/host-manifest.ts';

const root = new URL('../', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { version: string };
const target = fileURLToPath(new URL('manifests/invoice-courier.json', root));
writeFileSync(target, manifestJson(buildManifest({ version })));
console.log(`wrote ${target} (version ${version})`);
