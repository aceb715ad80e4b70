import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../src/activities';
import { parseSpec } from '../../src/spec/load';
import { noCommandActivities } from './no-command-activities';

const fixtures = resolve(__dirname, '../../../tests/fixtures/spec');

test('every activity refuses a bad spec, non-retryable and naming the field, before it asks for a host', async () => {
  let asked = 0;
  const acts = createActivities({
    remoteFor: () => {
      asked++;
      throw new Error('no host may be reached with a bad spec');
    },
  });
  const spec = JSON.parse(JSON.stringify(parseSpec(readFileSync(`${fixtures}/demo.yaml`, 'utf8'), 'demo.yaml')));
  spec.postgres.control = { type: 'pg_ctlcluster', cluster: '--help' };
  spec.repository.options = { 'compress-type': 'zst$(touch /tmp/x)' };
  // closedRuns serves the repository budget's workflow: it takes no spec and asks the Temporal server, not a host.
  const names = (Object.keys(acts) as (keyof typeof acts)[]).filter((n) => n !== 'closedRuns');
  assert.ok(names.length >= 20, `only ${names.length} activities`);
  for (const name of names) {
    const call = acts[name] as (...args: unknown[]) => Promise<unknown>;
    await assert.rejects(call(spec, 'pg2-srv', 'full'), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure, `${name}: ${String(e)}`);
      assert.equal(e.type, 'InvalidSpec', name);
      assert.equal(e.nonRetryable, true, name);
      assert.match(e.message, /postgres\.control\.cluster: /, name);
      assert.match(e.message, /repository\.options\.compress-type: /, name);
      return true;
    });
  }
  assert.equal(asked, 0);
});

test('the activity that needs a {file:} secret refuses one outside the secrets directory before running any command', async (t) => {
  const before = process.env.STANZACTL_SECRETS_DIR;
  process.env.STANZACTL_SECRETS_DIR = mkdtempSync(join(tmpdir(), 'stanzactl-secrets-'));
  t.after(() => {
    rmSync(process.env.STANZACTL_SECRETS_DIR!, { recursive: true, force: true });
    if (before === undefined) delete process.env.STANZACTL_SECRETS_DIR;
    else process.env.STANZACTL_SECRETS_DIR = before;
  });
  const { acts, commands } = noCommandActivities();
  const spec = JSON.parse(JSON.stringify(parseSpec(readFileSync(`${fixtures}/demo.yaml`, 'utf8'), 'demo.yaml')));
  spec.replication.password = { file: '/etc/shadow' };
  // In an activity context, as the worker runs it: the step heartbeats and its commands get deadlines.
  await assert.rejects(new MockActivityEnvironment().run(acts.ensureReplicationAccess, spec), (e: unknown) => {
    assert.ok(e instanceof ApplicationFailure, String(e));
    assert.equal(e.type, 'SecretRefused');
    assert.equal(e.nonRetryable, true);
    assert.match(e.message, /replication\.password: \/etc\/shadow is outside the worker's secrets directory/);
    return true;
  });
  assert.deepEqual(commands, []);
});
