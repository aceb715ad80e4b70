import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProvision, type ProvisionResult } from '../../src/client';
import { PROGRESS_QUERY } from '../../src/workflow-ids';
import type { Progress } from '../../src/workflows/progress';
import { ProvisionFixture } from './fixture';

const LONG = { timeout: 15 * 60_000 };

// The seed's layout: config inside the data directory, pg_ctl, OS user enterprisedb, port 5444;
// and the seed's way in: a personal login with sudo, not root.
describe('provision on the EDB layout, logged in with sudo', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('edb', 'stze', '10.231.22.0/24', 'dba');
  before(() => f.setUp());
  after(f.teardown);

  test('provision survives a Temporal server restart and a worker SIGKILLed during the standby restores', LONG, async () => {
    const handle = await startProvision(f.client, f.spec);
    let open = true;
    handle.result().finally(() => (open = false)).catch(() => undefined);

    // Kill the server once the workflow is past its first steps, restart it on the same SQLite file.
    for (;;) {
      const steps = (await handle.query<Progress>(PROGRESS_QUERY)).steps;
      if (steps.some((s) => s.name === 'SSH trust')) break;
      assert.ok(open, 'the workflow ended before the server could be restarted');
      await new Promise((r) => setTimeout(r, 50));
    }
    await f.temporal.kill();
    await new Promise((r) => setTimeout(r, 2000));
    await f.temporal.start();

    await f.checks.sh('pg2-srv', ['true']);
    await f.runStarted('pg2-srv', handle.firstExecutionRunId, 'restoreStandby', () => open);
    await f.crashWorker();

    const result = (await handle.result()) as ProvisionResult;
    assert.equal(result.changed, true);
    assert.deepEqual(result.standbys.map((s) => [s.name, s.state]), [['pg2-srv', 'streaming'], ['pg3-srv', 'streaming']]);
    // The crashed attempt's restore was re-attached (or, finished meanwhile, taken as made), never started twice.
    const log = await f.checks.sh('pg2-srv', ['cat', `/var/log/pgbackrest/${f.spec.stanza}-restore.log`]);
    assert.equal(log.match(/restore command begin/g)?.length, 1, 'pgBackRest started one restore on pg2-srv');
    assert.match(result.steps.find((s) => s.name === 'restore pg2-srv')!.detail!, /re-attached|made by an earlier attempt/);
  });

  test('the cluster works, checked without stanzactl', LONG, async () => {
    await f.checks.assertHealthy();
    assert.equal(await f.checks.psql('pg1-srv', 'SHOW hba_file'), `${f.spec.postgres.dataDir}/pg_hba.conf`);
    assert.equal(await f.checks.psql('pg2-srv', 'SHOW port'), '5444');
  });

  test('provision again changes nothing and says so', LONG, async () => {
    await f.checks.assertProvisionChangesNothing(() => startProvision(f.client, f.spec).then((h) => h.result() as Promise<ProvisionResult>));
  });

  test('fromStandby: the standbys join the repository config, check passes, a backup copies from a standby', LONG, async () => {
    const spec = { ...f.spec, backups: { fromStandby: true } };
    const result = (await (await startProvision(f.client, spec)).result()) as ProvisionResult;
    assert.equal(result.changed, true);
    const conf = await f.checks.sh('backup-srv', ['cat', '/etc/pgbackrest.conf']);
    assert.match(conf, /^backup-standby=y$/m);
    assert.match(conf, /^pg2-host=/m);
    assert.match(conf, /^pg3-host=/m);
    const out = await f.checks.pgbackrest('--type=full', '--log-level-console=detail', 'backup');
    assert.match(out, /backup file pg2:|wait for replay on the standby/);
    // Provisioned with standbys already streaming, the same spec changes nothing.
    await f.checks.assertProvisionChangesNothing(() => startProvision(f.client, spec).then((h) => h.result() as Promise<ProvisionResult>));
  });
});
