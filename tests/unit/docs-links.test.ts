import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../src/paths';

// The README and docs/ link to each other's sections: a renamed heading or moved page must not
// leave a reader at a dead link.

const root = projectRoot();
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

/** The text outside fenced code blocks and inline code, where a link is a link. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor of each heading: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of markdown.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = m[1].trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** The links of `text`, written in `page`, that reach no file or no heading. */
function deadLinks(page: string, text = readFileSync(join(root, page), 'utf8')): string[] {
  const dead: string[] = [];
  for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/.test(target)) continue;
    const [file, anchor] = target.split('#');
    const path = resolve(dirname(join(root, page)), file);
    if (file !== '' && !existsSync(path)) dead.push(`${page}: ${target} (no file ${relative(root, path)})`);
    else if (anchor !== undefined && (file === '' || path.endsWith('.md')) && !anchors(file === '' ? text : readFileSync(path, 'utf8')).has(anchor)) dead.push(`${page}: ${target} (no heading #${anchor})`);
  }
  return dead;
}

test('anchors are GitHub\'s', () => {
  assert.deepEqual([...anchors('# A `b` (c)\n## Workers: concurrency, several workers\n```\n# not a heading\n```\n## Workers: concurrency, several workers\n')],
    ['a-b-c', 'workers-concurrency-several-workers', 'workers-concurrency-several-workers-1']);
});

test('every relative link of the README and docs/ reaches its file and heading', () => {
  assert.ok(pages.length > 1, pages.join(', '));
  assert.deepEqual(pages.flatMap((page) => deadLinks(page)), []);
});

test('a dead link is seen, in prose only', () => {
  const text = '# Here\n[a](#here) [b](testing.md#the-lab) [x](nowhere.md) [y](#nothing) [z](../README.md#no-such) `[c](ignored.md)`\n```\n[d](ignored.md)\n```\n';
  assert.deepEqual(deadLinks('docs/x.md', text), [
    'docs/x.md: nowhere.md (no file docs/nowhere.md)',
    'docs/x.md: #nothing (no heading #nothing)',
    'docs/x.md: ../README.md#no-such (no heading #no-such)',
  ]);
});
