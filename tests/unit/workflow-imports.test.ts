import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../src/paths';

// Workflow code runs in Temporal's deterministic sandbox and replays from history: it may import
// the workflow SDK, its own folder, the ids it shares with the CLI, the budget's protocol and pure bookkeeping (src/budget), and the spec's pure validation (zod, croner: no I/O, so the worker
// judges a spec by the CLI's rules) with the copy places it judges and the roles it names (spec/roles), and the pure judgement of the roles
// read from the hosts (the spec a workflow acts on follows them); activities, specs and the rest only as types.
const ALLOWED = /^(@temporalio\/workflow|@temporalio\/common|\.\/[\w-]+|\.\.\/spec\/(errors|validate|restore-copy|roles)|\.\.\/facts\/topology|\.\.\/workflow-ids|\.\.\/budget\/(protocol|queue))$/;

test('workflow files import no I/O: activities, SSH and Node built-ins only as types', () => {
  const dir = join(projectRoot(), 'src', 'workflows');
  const offending: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
      if (!m[1] && !ALLOWED.test(m[2])) offending.push(`${file}: ${m[2]}`);
    }
  }
  assert.deepEqual(offending, []);
});
