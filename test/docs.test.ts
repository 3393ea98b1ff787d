/**
 * The repository speaks for itself: every Markdown file links only to files inside the repository that
 * exist (and to headings that exist in them), and no file points a reader at a folder outside it or at
 * a path on one particular machine. Web links (https://…) are left alone.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', '.git', 'data', 'dist', 'test-artifacts', 'coverage']);

function walk(dir: string, keep: (file: string) => boolean, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name)) continue;
    const full = path.join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) walk(full, keep, out);
    else if (keep(full)) out.push(full);
  }
  return out;
}

const rel = (file: string) => path.relative(ROOT, file);
const inside = (file: string) => file === ROOT || file.startsWith(ROOT + path.sep);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_~]/g, '')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => slug(m[1]!)));
}

/** Markdown link and image targets, outside code blocks and code spans. */
function linkTargets(text: string): string[] {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  const targets = [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
  const refs = [...prose.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]!);
  return [...targets, ...refs];
}

/** Problems with the links of one Markdown file (its text, or `text` as if written there). */
function linkProblems(file: string, text = readFileSync(file, 'utf8')): string[] {
  const problems: string[] = [];
  for (const target of linkTargets(text)) {
    if (/^(https?:|mailto:)/i.test(target)) continue;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('/')) {
      problems.push(`${rel(file)}: ${target} is not a path inside the repository`);
      continue;
    }
    const [pathPart, anchor] = target.split('#') as [string, string | undefined];
    const resolved = pathPart === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(pathPart));
    if (!inside(resolved)) {
      problems.push(`${rel(file)}: ${target} points outside the repository`);
      continue;
    }
    if (!existsSync(resolved)) {
      problems.push(`${rel(file)}: ${target} does not exist`);
      continue;
    }
    if (anchor && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor.toLowerCase())) {
      problems.push(`${rel(file)}: ${target} names a heading that ${rel(resolved)} does not have`);
    }
  }
  return problems;
}

// Built from pieces so this file does not match itself.
const MACHINE_PATH = new RegExp(`(^|[\\s\`'"(=])/(${['work', 'home', 'root', 'Users'].join('|')})/[\\w.-]`, 'm');
const OUTSIDE_REFERENCE = new RegExp(['\\.\\./shared/', 'shared/research/', 'DESIGN\\s§', 'HOUSE\\.md'].join('|'));

/** Mentions (in prose, code or comments) of places a reader of this repository does not have. */
function mentionProblems(file: string): string[] {
  const problems: string[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (MACHINE_PATH.test(line)) problems.push(`${rel(file)}:${i + 1}: a path on one machine: ${line.trim()}`);
      if (OUTSIDE_REFERENCE.test(line)) problems.push(`${rel(file)}:${i + 1}: refers to a document outside the repository: ${line.trim()}`);
      // A relative path climbing out of the repository, e.g. "../../elsewhere/notes.md".
      for (const m of line.matchAll(/(?:\.\.\/)+[\w.-]+/g)) {
        if (!inside(path.resolve(path.dirname(file), m[0]))) problems.push(`${rel(file)}:${i + 1}: ${m[0]} is outside the repository`);
      }
    });
  return problems;
}

const markdown = walk(ROOT, (f) => f.endsWith('.md'));
const sources = walk(ROOT, (f) => /\.(ts|js|cjs|mjs|md|sh|py|json)$/.test(f) && !f.endsWith('package-lock.json') && f !== fileURLToPath(import.meta.url));

describe('the repository speaks for itself', () => {
  it('finds the documentation it checks', () => {
    for (const doc of [
      'README.md',
      'CONTRIBUTING.md',
      'docs/design.md',
      'docs/data-flow.md',
      'docs/architecture.md',
      'docs/decisions.md',
      'docs/performance.md',
    ]) {
      expect(markdown.map(rel)).toContain(doc);
    }
  });

  it('every Markdown link leads to an existing file (and heading) inside the repository', () => {
    expect(markdown.flatMap((f) => linkProblems(f))).toEqual([]);
  });

  it('no file points at a folder outside the repository or at a path on one machine', () => {
    expect(sources.flatMap((f) => mentionProblems(f))).toEqual([]);
  });

  it('the README links to every design page', () => {
    const readme = linkTargets(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
    for (const page of ['docs/design.md', 'docs/data-flow.md', 'docs/architecture.md', 'docs/decisions.md', 'docs/performance.md'])
      expect(readme).toContain(page);
  });

  it('the checks catch what they are for (a link outside, a missing file, a missing heading, a machine path)', () => {
    const probe = path.join(ROOT, 'docs', 'design.md');
    const text = [
      '[a](../../elsewhere/DESIGN.md)',
      '[b](docs/nope.md)',
      '[c](data-flow.md#no-such-heading)',
      '[d](/etc/passwd)',
      '[e](https://example.com/x)',
      '[f](architecture.md#the-picture)',
    ].join('\n');
    const problems = linkProblems(probe, text);
    expect(problems).toHaveLength(4);
    for (const [i, bad] of [
      '../../elsewhere/DESIGN.md points outside',
      'docs/nope.md does not exist',
      'data-flow.md#no-such-heading names a heading',
      '/etc/passwd is not a path',
    ].entries()) {
      expect(problems[i]).toContain(bad);
    }
    expect(MACHINE_PATH.test(`see ${'/'}work/shared/x.md`)).toBe(true);
    expect(OUTSIDE_REFERENCE.test(`(${'.'}./shared/DESIGN.md)`)).toBe(true);
  });
});
