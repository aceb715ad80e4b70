import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../src/paths';

// The flow runs one way: CLI -> client -> workflow -> activity -> host -> render/facts -> remote. A runtime
// import against that flow loads code into a process (or sandbox) that must not carry it; types
// cross freely because they vanish at compile time.
const src = join(projectRoot(), 'src');

function files(path: string): string[] {
  const full = join(src, path);
  if (!statSync(full).isDirectory()) return [full];
  return readdirSync(full).flatMap((f) => files(join(path, f))).filter((f) => f.endsWith('.ts'));
}

/** Imports of a file (runtime ones only unless `types`), as paths relative to src/ (packages as they are written). */
function runtimeImports(file: string, types = false): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)]
    .filter((m) => types || !m[1])
    .map((m) => (m[2].startsWith('.') ? relative(src, resolve(dirname(file), m[2])) : m[2]));
}

function breaches(from: string[], forbidden: RegExp, types = false): string[] {
  return from.flatMap(files).flatMap((f) => runtimeImports(f, types).filter((i) => forbidden.test(i)).map((i) => `${relative(src, f)} -> ${i}`));
}

test('the CLI never loads workflow code: commands, schedules, status and the client import workflows only as types', () => {
  assert.deepEqual(breaches(['commands', 'schedules', 'status', 'client.ts', 'cli.ts'], /^workflows\//), []);
});

test('renderers and parsers are pure: no SSH, activity or workflow code', () => {
  assert.deepEqual(breaches(['render', 'facts', 'shell'], /^(remote|activities|workflows)\/|^node-ssh$|^ssh2$/), []);
});

// Not even types: activities/index.ts is what workflows import their types from, so a type taken
// back from a workflow closes a loop; a type two rooms share lives beside the activity producing it.
test('activities import nothing from workflows, not even types', () => {
  assert.deepEqual(breaches(['activities'], /^workflows\//, true), []);
});

// The host layer talks to hosts and knows no workflow: an activity takes it, never the other way,
// and a type taken back from an activity would tie the layer to one workflow's step.
test('the host layer imports nothing from activities or workflows, not even types', () => {
  assert.deepEqual(breaches(['host'], /^(activities|workflows)\//, true), []);
});

// A bash program is a .sh file beside the module that sends it (read by program()), where bash -n,
// shellcheck and its own unit test see it; never a TypeScript string passed to script().
test('no bash program lives in a TypeScript string', () => {
  const inline = files('.').flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\bscript\(\s*['"`]/g)].map(() => relative(src, f)));
  assert.deepEqual(inline, []);
});

test('the wall test sees a runtime import when there is one', () => {
  assert.deepEqual(runtimeImports(join(src, 'workflows', 'progress.ts')), ['@temporalio/workflow', 'workflow-ids']);
});

/** Every module path a file names (import, export ... from, require, import()), as paths relative to src/. */
function namedModules(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom\s+|\brequire(?:\.resolve)?\(\s*|\bimport\(\s*)'(\.[^']*)'/g)].map((m) => relative(src, resolve(dirname(file), m[1])));
}

// The product stands alone: the dev tooling (dev/: the lab hosts, the fault hook), the tests and the
// benches import it, never the reverse, not even a type. The image (Dockerfile) carries src/ only.
test('nothing under src/ names a module outside it: the dev tooling stays out of the product', () => {
  const outside = files('.').flatMap((f) => namedModules(f).filter((m) => m.startsWith('..')).map((m) => `${relative(src, f)} -> ${m}`));
  assert.deepEqual(outside, []);
});

test('the dev-tree wall sees every way a module is named', () => {
  const worker = namedModules(join(src, 'worker.ts'));
  assert.ok(worker.includes('workflows'), 'require.resolve'); // the bundle's entry
  assert.ok(worker.includes('remote/types'), 'import type');
  assert.ok(namedModules(join(projectRoot(), 'dev', 'cli.ts')).includes(join('..', 'dev', 'faults')), 'a dev module seen from src/');
});
