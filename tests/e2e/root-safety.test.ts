import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure, WorkflowFailedError, WorkflowIdConflictPolicy } from '@temporalio/client';
import { startProvision } from '../../src/client';
import { labExec } from '../../dev/lab';
import { TASK_QUEUE } from '../../src/paths';
import { rebuildWorkflowId } from '../../src/workflow-ids';
import { ProvisionFixture } from './fixture';
import { confirmedRebuild } from './confirmed';

const LONG = { timeout: 10 * 60_000 };
const HOSTS = ['backup-srv', 'pg1-srv', 'pg2-srv', 'pg3-srv'];
const DATA = '/var/lib/postgresql/15/main';

// What a planted link would reach: root's secrets and /etc itself, on every host.
const TARGETS = `sha256sum /etc/shadow /root/.ssh/authorized_keys | cut -d' ' -f1; stat -c '%U:%G %a' /etc`;

// Moves $1 aside to $1.stanzactl-test and back; the lab's pgBackRest dirs are mount points.
const ASIDE = `if mountpoint -q "$1"; then mkdir "$1.stanzactl-test"; mount --move "$1" "$1.stanzactl-test"; rmdir "$1"
elif [ -e "$1" ]; then mv "$1" "$1.stanzactl-test"; fi`;
const BACK = `if mountpoint -q "$1.stanzactl-test"; then mkdir "$1"; mount --move "$1.stanzactl-test" "$1"; rmdir "$1.stanzactl-test"
elif [ -e "$1.stanzactl-test" ]; then mv "$1.stanzactl-test" "$1"; fi`;

/**
 * Accounts other than root (postgres, pgbackrest) plant symbolic links where stanzactl, as root,
 * reads or changes their files. Each run must end in a non-retryable refusal that names the host
 * and the path, with every target unchanged and the planted link still in place.
 */
describe('root never follows a link an account planted', { timeout: 40 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stas', '10.231.101.0/24');
  const sh = async (host: string, script: string, ...args: string[]) => {
    const r = await labExec(f.lab, host, ['bash', '-c', script, 'stanzactl-test', ...args]);
    assert.equal(r.code, 0, `${host}: ${script}: ${r.stderr}`);
    return r.stdout;
  };
  const targets = () => Promise.all(HOSTS.map((h) => sh(h, TARGETS)));
  let baseline: string[];

  before(async () => {
    await f.setUp();
    await (await startProvision(f.client, f.spec)).result();
    baseline = await targets();
  });
  after(f.teardown);

  /** The ApplicationFailure at the root of a workflow's failure. */
  function failureOf(e: unknown): ApplicationFailure {
    assert.ok(e instanceof WorkflowFailedError, `the workflow did not fail: ${String(e)}`);
    let cause: unknown = e;
    while (cause instanceof Error && !(cause instanceof ApplicationFailure)) cause = cause.cause;
    assert.ok(cause instanceof ApplicationFailure, `no ApplicationFailure in ${String(e)}`);
    return cause;
  }

  /**
   * Plants `link` -> `to` on `host` (moving what was there aside), runs `run`, and expects every
   * target unchanged, the link still there and a refusal naming host and path; then puts the
   * original back.
   */
  async function refused(host: string, link: string, to: string, run: () => Promise<unknown>, expect: RegExp): Promise<void> {
    await sh(host, `set -e; ${ASIDE}; ln -s "$2" "$1"`, link, to);
    try {
      const started = Date.now();
      const outcome = await run().then(() => undefined, (e: unknown) => e);
      const seconds = (Date.now() - started) / 1000;
      // The harm first, so that a run on code without the guard shows what it did.
      assert.deepEqual(await targets(), baseline, '/etc/shadow, root\'s authorized_keys and /etc are unchanged on every host');
      assert.equal((await sh(host, 'readlink "$1" || true', link)).trim(), to, `${host}:${link} is still the planted link`);
      const failure = failureOf(outcome);
      assert.equal(failure.type, 'UnsafePath', failure.message);
      assert.equal(failure.nonRetryable, true);
      assert.match(failure.message, new RegExp(`^${host === 'backup-srv' ? f.spec.repository.host.replace(/\./g, '\\.') : host}: `), 'names the host');
      assert.match(failure.message, expect);
      assert.ok(seconds < 60, `refused at once, not after retries (${seconds} s)`);
    } finally {
      await sh(host, `set -e; rm -f "$1"; ${BACK}`, link);
    }
  }

  const provision = async () => (await startProvision(f.client, f.spec)).result();
  const rebuild = (node: string) => async () => {
    const handle = await f.client.workflow.start('rebuildStandby', {
      taskQueue: TASK_QUEUE, workflowId: rebuildWorkflowId(f.spec, node), args: [f.spec, node, { confirm: confirmedRebuild(f.spec, node) }], workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
    });
    return handle.result();
  };

  test('repository user: ~/.ssh/authorized_keys and ~/.ssh/known_hosts -> /etc/shadow', LONG, async () => {
    await refused('backup-srv', '/home/pgbackrest/.ssh/authorized_keys', '/etc/shadow', provision,
      /\/home\/pgbackrest\/\.ssh\/authorized_keys is a symbolic link \(to \/etc\/shadow\)/);
    await refused('backup-srv', '/home/pgbackrest/.ssh/known_hosts', '/etc/shadow', provision,
      /\/home\/pgbackrest\/\.ssh\/known_hosts is a symbolic link \(to \/etc\/shadow\)/);
  });

  test('~postgres/.ssh -> /root/.ssh on a node', LONG, async () => {
    await refused('pg2-srv', '/var/lib/postgresql/.ssh', '/root/.ssh', provision, /\/var\/lib\/postgresql\/\.ssh is a symbolic link \(to \/root\/\.ssh\)/);
  });

  test('~postgres/.pgpass -> /etc/shadow on a standby, in provision and in rebuild', LONG, async () => {
    const expect = /\/var\/lib\/postgresql\/\.pgpass is a symbolic link \(to \/etc\/shadow\)/;
    await refused('pg3-srv', '/var/lib/postgresql/.pgpass', '/etc/shadow', provision, expect);
    await refused('pg3-srv', '/var/lib/postgresql/.pgpass', '/etc/shadow', rebuild('pg3-srv'), expect);
  });

  test('a stopped standby\'s global/pg_control -> /etc/shadow: rebuild does not read it for root', LONG, async () => {
    await sh('pg3-srv', 'pg_ctlcluster 15 main stop');
    await refused('pg3-srv', `${DATA}/global/pg_control`, '/etc/shadow', rebuild('pg3-srv'), /global\/pg_control is there but postgres \(postgres.osUser\) cannot read it/);
    await sh('pg3-srv', 'pg_ctlcluster 15 main start');
  });

  test('pgBackRest directories -> /etc, on the repository host and on a node', LONG, async () => {
    await refused('backup-srv', '/var/log/pgbackrest', '/etc', provision, /\/var\/log\/pgbackrest is a symbolic link \(to \/etc\)/);
    await refused('pg3-srv', '/var/spool/pgbackrest', '/etc', provision, /\/var\/spool\/pgbackrest is a symbolic link \(to \/etc\)/);
  });

  test('a standby\'s data directory -> /etc, in rebuild and in provision', LONG, async () => {
    await sh('pg3-srv', 'pg_ctlcluster 15 main stop');
    const expect = new RegExp(`${DATA} is a symbolic link \\(to /etc\\)`);
    await refused('pg3-srv', DATA, '/etc', rebuild('pg3-srv'), expect);
    await refused('pg3-srv', DATA, '/etc', provision, expect);
    // The real data directory is back: the standby streams again.
    await sh('pg3-srv', 'pg_ctlcluster 15 main start');
    await f.checks.rowReplicates();
  });

});
