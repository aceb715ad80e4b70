import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlProblem, parseServiceFacts } from '../../src/facts/postgres-service';
import type { Spec } from '../../src/spec/schema';

const pgdg: Spec['postgres'] = { version: 15, osUser: 'postgres', port: 5432, dataDir: '/var/lib/pgsql/15/data', binDir: '/usr/pgsql-15/bin', control: { type: 'systemd', unit: 'postgresql-15' } };
const byHand: Spec['postgres'] = { ...pgdg, control: { type: 'pg_ctl' } };

// As systemctl show prints them for PGDG's postgresql-15.service.
const unit = (o: { active?: string; pid?: number; env?: string; exec?: string; load?: string } = {}) => [
  'unit postgresql-15',
  'Id=postgresql-15.service',
  `LoadState=${o.load ?? 'loaded'}`,
  `ActiveState=${o.active ?? 'active'}`,
  'UnitFileState=enabled',
  `MainPID=${o.pid ?? 812}`,
  `Environment=${o.env ?? 'PGDATA=/var/lib/pgsql/15/data/ PG_OOM_ADJUST_FILE=/proc/self/oom_score_adj PG_OOM_ADJUST_VALUE=0'}`,
  `ExecStart={ path=/usr/pgsql-15/bin/postmaster ; argv[]=/usr/pgsql-15/bin/postmaster -D \${PGDATA} ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }`.replace('-D ${PGDATA}', o.exec ?? '-D ${PGDATA}'),
].join('\n');

test('a unit\'s data directory: PGDATA from its Environment, or -D in its ExecStart', () => {
  assert.equal(parseServiceFacts(`systemd yes\npostmaster 812\n${unit()}\n`).units[0].dataDir, '/var/lib/pgsql/15/data');
  assert.equal(parseServiceFacts(`systemd yes\n${unit({ env: '', exec: '-D /srv/pg' })}`).units[0].dataDir, '/srv/pg');
  assert.equal(parseServiceFacts(`systemd yes\n${unit({ env: '' })}`).units[0].dataDir, undefined, '${PGDATA} from an EnvironmentFile systemctl does not show');
  const f = parseServiceFacts(`systemd yes\npostmaster 812\n${unit()}\n`);
  assert.deepEqual({ ...f, units: f.units.map((u) => u.id) }, { systemd: true, postmaster: { pid: 812 }, units: ['postgresql-15.service'] });
  assert.deepEqual(parseServiceFacts('systemd no\n'), { systemd: false, units: [] });
});

test('systemd control fits only a loaded unit that serves the data directory and runs its postmaster', () => {
  const judge = (out: string) => controlProblem('pg1', pgdg, parseServiceFacts(out));
  assert.equal(judge(`systemd yes\npostmaster 812\n${unit()}`), undefined);
  assert.equal(judge(`systemd yes\npostmaster -\n${unit({ active: 'inactive', pid: 0 })}`), undefined, 'stopped, as the unit says');
  assert.match(judge('systemd no\n')!, /names systemd unit postgresql-15, but pg1 does not run systemd \(PID 1 is not systemd\)/);
  assert.match(judge(`systemd yes\npostmaster -\n${unit({ load: 'not-found' })}`)!, /systemd unit postgresql-15 \(postgres.control\) is not installed on pg1 \(LoadState=not-found\)/);
  assert.match(judge(`systemd yes\npostmaster -\n${unit({ env: 'PGDATA=/var/lib/pgsql/15/other' })}`)!, /unit postgresql-15 on pg1 serves \/var\/lib\/pgsql\/15\/other, not postgres.dataDir \/var\/lib\/pgsql\/15\/data/);
  assert.match(judge(`systemd yes\npostmaster 4242\n${unit({ active: 'inactive', pid: 0 })}`)!,
    /PostgreSQL runs on pg1:\/var\/lib\/pgsql\/15\/data \(pid 4242\) outside systemd unit postgresql-15 \(which systemd sees inactive\): it was started behind systemd's back/);
});

test('pg_ctl control is refused where a unit manages the data directory, and fits where none does', () => {
  const judge = (out: string) => controlProblem('pg1', byHand, parseServiceFacts(out));
  assert.match(judge(`systemd yes\npostmaster -\n${unit({ active: 'inactive', pid: 0 })}`)!,
    /systemd unit postgresql-15.service \(enabled, inactive\) manages pg1:\/var\/lib\/pgsql\/15\/data: pg_ctl \(postgres.control\) would start and stop it behind systemd's back. Set postgres.control to \{type: systemd, unit: postgresql-15\}/);
  assert.equal(judge(`systemd yes\npostmaster -\n${unit({ env: 'PGDATA=/var/lib/pgsql/15/data2' })}`), undefined, 'a unit of another directory the grep found');
  assert.equal(judge('systemd yes\npostmaster 77\n'), undefined);
  assert.equal(judge('systemd no\n'), undefined);
  assert.equal(controlProblem('pg1', { ...byHand, control: { type: 'pg_ctlcluster', cluster: 'main' } }, parseServiceFacts(`systemd yes\n${unit()}`)), undefined, 'pg_ctlcluster hands over to systemd itself');
});
