import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { provisionedCluster, ProvisionFixture } from './fixture';
import { RecoverChecks } from './recover-checks';

// The EDB-like layout: pg_ctl, enterprisedb, port 5444, config (postgresql.auto.conf included) in the data directory.
describe('rebuild a standby and recover the whole cluster in place (EDB-like layout)', { timeout: 30 * 60_000 }, () => {
  const f = new ProvisionFixture('edb', 'stpb', '10.231.212.0/24');
  const cli = provisionedCluster(f);

  test('rebuild a standby whose data directory was deleted: restored through pg_ctl, it streams again', { timeout: 10 * 60_000 }, async () => {
    const pg = f.spec.postgres;
    const pg2Started = await f.checks.psql('pg2-srv', 'SELECT pg_postmaster_start_time()');
    await f.checks.sh('pg3-srv', ['bash', '-c', `"$1/pg_ctl" -D "$2" stop -m immediate && rm -rf "$2"`, 'x', pg.binDir, pg.dataDir], pg.osUser);
    const out = await cli('rebuild', '--node', 'pg3-srv', '--yes');
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(out.stdout, /data directory .* is missing/);
    assert.match(out.stdout, /pg3-srv rebuilt: restore in [\d.]+ s/);
    await f.checks.rowReplicates();
    assert.deepEqual(await f.checks.streamingStandbys(), ['pg2-srv', 'pg3-srv']);
    assert.equal(await f.checks.psql('pg2-srv', 'SELECT pg_postmaster_start_time()'), pg2Started, 'pg2-srv was left alone');
    // Its config lives in the data directory: the port came back with the backup's.
    assert.equal(await f.checks.psql('pg3-srv', 'SHOW port'), String(pg.port));
  });

  test('recover to a time before a DROP TABLE: the table is back, standbys stream on the new timeline, a backup on it', { timeout: 15 * 60_000 }, async () => {
    const r = new RecoverChecks(f.checks);
    const target = await r.tableThenDrop('precious', 4);
    const timelineBefore = await r.primaryTimeline();
    const out = await cli('recover', '--type', 'time', '--target', target, '--yes');
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(out.stdout, /LOST +every transaction committed on pg1-srv after time /);
    assert.equal(await r.tableRows('precious'), '4');
    await r.assertOnNewTimeline(timelineBefore);
    // The primary's config lives in its data directory: it must not have come back as a standby's.
    assert.equal(await f.checks.sh('pg1-srv', ['bash', '-c', `test -e ${f.spec.postgres.dataDir}/standby.signal && echo yes || echo no`]), 'no\n');
  });
});
