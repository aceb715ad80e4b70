import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseRewindDryRun, rewindBlocker, rewindWorthIt, type RewindFacts } from '../../src/facts/rewind';
import { missingRewindGrantsSql, pgRewindCommand, REWIND_ROLE, rewindGrantsSql } from '../../src/render/rewind';
import { describe } from '../../src/shell/command';
import { loadSpec } from '../../src/spec/load';

const fixtures = resolve(__dirname, '../../../tests/fixtures');

test('pg_rewind --dry-run: where the servers forked and what it would copy, pgBackRest archive-get lines between', () => {
  // Captured on the lab: a killed old primary, after its crash recovery, against the promoted standby.
  assert.deepEqual(parseRewindDryRun(readFileSync(`${fixtures}/postgres/rewind-dry-run.txt`, 'utf8')),
    { needed: true, divergedAt: '0/3FFFFD8', timeline: 1, copyMb: 79, totalMb: 97 });
  assert.deepEqual(parseRewindDryRun('pg_rewind: connected to server\npg_rewind: source and target cluster are on the same timeline\npg_rewind: no rewind required\n'), { needed: false });
  assert.throws(() => parseRewindDryRun('pg_rewind: connected to server\npg_rewind: error: could not find previous WAL record at 0/3000060\n'),
    /neither "no rewind required" nor .*could not find previous WAL record/);
});

const old: RewindFacts = {
  exists: true, running: false, systemId: '7', controlState: 'in production', timeline: 1, hintsLogged: true,
  primarySystemId: '7', primaryTimeline: 2, version: 15, configOutside: true,
};

test('pg_rewind is considered for a stopped node of this cluster that forked, with checksums or wal_log_hints', () => {
  assert.equal(rewindBlocker(old), undefined, 'a killed old primary');
  assert.equal(rewindBlocker({ ...old, controlState: 'shut down' }), undefined, 'a stopped old primary');
  assert.equal(rewindBlocker({ ...old, controlState: 'shut down in recovery' }), undefined, 'a standby stopped after it received WAL the new primary never had');
  assert.equal(rewindBlocker({ ...old, version: 13, configOutside: false }), undefined, 'before 15 with the config inside the data directory');
  assert.match(rewindBlocker({ ...old, exists: false })!, /no data directory/);
  assert.match(rewindBlocker({ ...old, systemId: '8' })!, /another cluster \(system identifier 8\)/);
  assert.match(rewindBlocker({ ...old, running: true })!, /still runs/);
  assert.match(rewindBlocker({ ...old, hintsLogged: false })!, /neither data checksums nor wal_log_hints/);
  assert.match(rewindBlocker({ ...old, version: 14 })!, /before PostgreSQL 15 cannot read a configuration outside/);
  // Its crash recovery would end a standby's recovery on the primary's own timeline.
  assert.match(rewindBlocker({ ...old, controlState: 'in archive recovery' })!, /did not shut down cleanly is restored/);
  assert.match(rewindBlocker({ ...old, timeline: 2 })!, /on the primary's timeline 2: nothing forked/);
});

test('pg_rewind is chosen for a cluster of a gibibyte or more while it copies at most half of it', () => {
  assert.ok(!rewindWorthIt({ copyMb: 79, totalMb: 97 }), 'the lab\'s cluster: a delta restore was faster there');
  assert.ok(!rewindWorthIt({ copyMb: 10, totalMb: 1000 }), 'below a gibibyte, whatever it copies');
  assert.ok(rewindWorthIt({ copyMb: 200, totalMb: 1024 }));
  assert.ok(rewindWorthIt({ copyMb: 50_000, totalMb: 100_000 }));
  assert.ok(!rewindWorthIt({ copyMb: 60_000, totalMb: 100_000 }), 'most of a large cluster: the repository bears the copy');
});

test('pg_rewind runs as the cluster owner from the primary as its own role, the WAL it lacks from the archive', () => {
  const demo = loadSpec(`${fixtures}/spec/demo.yaml`).postgres;
  const line = describe(pgRewindCommand(demo, { host: '10.0.0.12', port: 5432 }, true));
  assert.match(line, /postgres/);
  assert.match(line, /pg_rewind --dry-run --progress --restore-target-wal --config-file=\/etc\/postgresql\/15\/main\/postgresql.conf -D \/var\/lib\/postgresql\/15\/main/);
  assert.match(line, /'--source-server=host=10\.0\.0\.12 port=5432 user=stanzactl_rewind dbname=postgres'/);
  assert.doesNotMatch(line, /password/i, 'the password comes from ~\/.pgpass');
  const edb = loadSpec(`${fixtures}/spec/edb.yaml`).postgres;
  assert.doesNotMatch(describe(pgRewindCommand(edb, { host: 'pg 2', port: 5444 }, false)), /--config-file|--dry-run/);
  // Quoted for libpq, then for the shell.
  assert.match(describe(pgRewindCommand(edb, { host: 'pg 2', port: 5444 }, false)), /'--source-server=host='\\''pg 2'\\'' port=5444 /);
});

test('pg_rewind\'s role gets execute rights on its four file functions, checked before granted', () => {
  const grants = rewindGrantsSql(REWIND_ROLE).split('\n');
  assert.equal(grants.length, 4);
  for (const g of grants) assert.match(g, /^GRANT EXECUTE ON FUNCTION pg_catalog\.pg_(ls_dir|stat_file|read_binary_file)\([a-z, ]+\) TO "stanzactl_rewind";$/);
  assert.match(missingRewindGrantsSql("o'x"), /has_function_privilege\('o''x', f, 'EXECUTE'\)/);
});
