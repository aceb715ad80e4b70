import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { startProvision } from '../../src/client';
import { labExec } from '../../dev/lab';
import { REMOTE_GATE } from '../../src/render/authorized-keys';
import type { Spec } from '../../src/spec/schema';
import { ProvisionFixture } from './fixture';
import { literally, runCli } from './harness';

const LONG = { timeout: 15 * 60_000 };
const REPO = 'backup-srv';
const REFUSED = /this key runs pgBackRest's remote only/;

/**
 * Issue 14, items 5 and 6: the database account cannot choose a file root rewrites (hba_file), and
 * the SSH keys stanzactl authorizes between the repository user and the database accounts (nodes,
 * scratch hosts) run pgBackRest's remote and nothing else; a copy's keys go with the copy.
 */
describe('accounts reach no further than pgBackRest needs (Debian layout)', { timeout: 60 * 60_000 }, () => {
  const f = new ProvisionFixture('debian', 'stak', '10.231.226.0/24');
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-access-'));
  const specFile = join(dir, 'spec.json');
  let spec: Spec;
  const cli = (...args: string[]) => runCli([...args, '--spec', specFile], f.workerEnv);
  const run = (host: string, script: string, user?: string) => labExec(f.lab, host, ['bash', '-c', script], { user });
  const sh = (host: string, script: string, user?: string) => f.checks.sh(host, ['bash', '-c', script], user);
  const ipOf = (host: string) => f.lab.hosts.find((h) => h.name === host)!.ip;
  const repoKeys = () => sh(REPO, `cat /home/${spec.repository.user}/.ssh/authorized_keys`);
  const pub = async (host: string, user: string) => (await sh(host, 'cat "$(getent passwd "$(id -un)" | cut -d: -f6)/.ssh/id_ed25519.pub"', user)).trim().split(' ').slice(0, 2).join(' ');
  const provision = async () => (await startProvision(f.client, spec)).result();

  /** `ssh <to> <command>` as `user` on `host`: the exit code and all it printed. */
  async function sshFrom(host: string, user: string, to: string, ...command: string[]): Promise<{ code: number | null; out: string }> {
    const opts = '-o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10';
    // No command: the session asks for a shell, as an interactive login does (its pty is refused by `restrict` anyway).
    const remote = command.length ? `'${command.join(' ')}'` : '';
    const r = await run(host, `ssh ${opts} ${to} ${remote} </dev/null`, user);
    return { code: r.code, out: r.stdout + r.stderr };
  }

  async function assertRefused(host: string, user: string, to: string): Promise<void> {
    for (const command of [['id'], [], ['pgbackrest', 'info'], ['pgbackrest', '--remote-type=repo', 'info:remote;', 'id']]) {
      const r = await sshFrom(host, user, to, ...command);
      assert.notEqual(r.code, 0, `${user}@${host} -> ${to} ${command.join(' ') || '(a login)'} ran: ${r.out}`);
      assert.doesNotMatch(r.out, /uid=\d+/, `${user}@${host} -> ${to} ${command.join(' ')}`);
      assert.match(r.out, REFUSED, `${user}@${host} -> ${to} ${command.join(' ') || '(a login)'}: ${r.out}`);
    }
  }

  before(async () => {
    await f.setUp();
    spec = { ...f.spec, drills: { host: f.scratch.ip, dataDir: '/var/lib/postgresql/15/drill', port: 5433 } };
    writeFileSync(specFile, JSON.stringify(spec));
    await provision();
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await f.teardown();
  });

  test('nodes and the repository user reach each other with pgBackRest remote only; old unrestricted lines converge; backup, archive-push and archive-get work', LONG, async () => {
    const repo = `${spec.repository.user}@${spec.repository.host}`;
    const pg = spec.postgres.osUser;
    await assertRefused('pg2-srv', pg, repo);
    await assertRefused(REPO, spec.repository.user, `${pg}@${ipOf('pg1-srv')}`);
    const gate = await sh(REPO, `stat -c '%U:%G %a' ${REMOTE_GATE}`);
    assert.equal(gate.trim(), 'root:root 755');

    // As stanzactl left them before: the key bare, twice, on both sides.
    const pg2 = await pub('pg2-srv', pg);
    const repoPub = await pub(REPO, spec.repository.user);
    await sh(REPO, `f=/home/${spec.repository.user}/.ssh/authorized_keys; grep -v -F "$1" "$f" > "$f.new"; printf '%s x\\n%s y\\n' "$1" "$1" >> "$f.new"; cat "$f.new" > "$f"; rm "$f.new"`.replace(/\$1/g, pg2));
    await sh('pg1-srv', `f=/var/lib/postgresql/.ssh/authorized_keys; grep -v -F "${repoPub}" "$f" > "$f.new"; echo "${repoPub}" >> "$f.new"; cat "$f.new" > "$f"; rm "$f.new"`);
    assert.match((await sshFrom('pg2-srv', pg, repo, 'id')).out, /uid=\d+/, 'the bare line lets a command through');
    await provision();
    const lines = (await repoKeys()).split('\n').filter((l) => l.includes(pg2));
    assert.deepEqual(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], new RegExp(`^${literally(`restrict,command="${REMOTE_GATE} remote-type=repo repo1-path=${spec.repository.path}",from="${ipOf('pg2-srv')}" ${pg2} `)}`));
    const onPg1 = (await sh('pg1-srv', 'cat /var/lib/postgresql/.ssh/authorized_keys')).split('\n').filter((l) => l.includes(repoPub));
    assert.deepEqual(onPg1.length, 1);
    assert.match(onPg1[0], new RegExp(`^${literally(`restrict,command="${REMOTE_GATE} pg1-path=${spec.postgres.dataDir} remote-type=pg",from="${spec.repository.host}" `)}`));
    await assertRefused('pg2-srv', pg, repo);
    await assertRefused(REPO, spec.repository.user, `${pg}@${ipOf('pg1-srv')}`);

    // What pgBackRest needs still works through the forced command: check (archive-push from the
    // primary, pg remotes from the repository host), a backup from the repository host, archive-get.
    await f.checks.pgbackrest('check');
    const b = await cli('backup', '--type', 'incr');
    assert.equal(b.code, 0, b.stdout + b.stderr);
    const wal = await f.checks.psql('pg1-srv', 'SELECT last_archived_wal FROM pg_stat_archiver');
    await sh('pg2-srv', `pgbackrest --stanza=${spec.stanza} archive-get ${wal} /tmp/stanzactl-e2e-wal && test -s /tmp/stanzactl-e2e-wal && rm /tmp/stanzactl-e2e-wal`, pg);
    await f.checks.rowReplicates();
    await f.checks.assertProvisionChangesNothing(provision);
  });

  test('hba_file pointed at a root-owned file, directly or through a link in the config directory, is refused naming it; the file is unchanged', LONG, async () => {
    const target = '/etc/stanzactl-e2e-hba.conf';
    const link = '/etc/postgresql/15/main/linked_hba.conf';
    const hba = await f.checks.psql('pg1-srv', 'SHOW hba_file');
    // The file without stanzactl's lines, so a provision wants to add them; the server can read it.
    await sh('pg1-srv', `sed '/^# added by stanzactl/,$d' ${hba} > ${target}; chown root:root ${target}; chmod 644 ${target}`);
    await sh('pg1-srv', `ln -s ${target} ${link}`, 'postgres');
    const sum = () => sh('pg1-srv', `sha256sum ${target}; stat -c '%U:%G %a %s' ${target}`);
    const before = await sum();
    const pointAt = async (path: string) => {
      await f.checks.psql('pg1-srv', `ALTER SYSTEM SET hba_file = '${path}'`);
      await sh('pg1-srv', 'pg_ctlcluster 15 main restart');
      assert.equal(await f.checks.psql('pg1-srv', 'SHOW hba_file'), path);
    };
    const refusal = async () => {
      const e = await provision().then(() => undefined, (err: unknown) => err);
      assert.ok(e instanceof WorkflowFailedError, `provision was not refused: ${String(e)}`);
      let cause: unknown = e;
      const messages: string[] = [];
      while (cause instanceof Error) {
        messages.push(cause.message);
        cause = cause.cause;
      }
      return messages.join(' | ');
    };
    try {
      await pointAt(target);
      assert.match(await refusal(), new RegExp(`pg1-srv: hba_file ${target} is outside the config and data directories the spec names \\(${spec.postgres.dataDir} ${spec.postgres.configDir}\\): refused, nothing changed`));
      assert.equal(await sum(), before, `${target} unchanged`);
      await pointAt(link);
      assert.match(await refusal(), new RegExp(`pg1-srv: hba_file ${link} (\\(resolving to ${target}\\) is outside the config and data directories|is a symbolic link)`));
      assert.equal(await sum(), before, `${target} unchanged`);
    } finally {
      await f.checks.psql('pg1-srv', 'ALTER SYSTEM RESET hba_file');
      await sh('pg1-srv', `pg_ctlcluster 15 main restart; rm -f ${link} ${target}`);
    }
    await provision();
    await f.checks.rowReplicates();
  });

  test('a scratch host: after a drill its key is gone; after restore --to it runs pgBackRest remote only', LONG, async () => {
    const repo = `${spec.repository.user}@${spec.repository.host}`;
    const pg = spec.postgres.osUser;
    const d = await cli('drill');
    assert.equal(d.code, 0, d.stdout + d.stderr);
    const scratchPub = await pub(f.scratch.name, pg);
    assert.doesNotMatch(await repoKeys(), new RegExp(literally(scratchPub.split(' ')[1])), 'the drill host key is removed with its copy');
    const gone = await sshFrom(f.scratch.name, pg, repo, 'id');
    assert.notEqual(gone.code, 0, gone.out);
    assert.match(gone.out, /Permission denied \(publickey/);

    const r = await cli('restore', '--to', f.scratch.ip, '--yes');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const line = (await repoKeys()).split('\n').find((l) => l.includes(scratchPub));
    assert.match(line ?? '', new RegExp(`^${literally(`restrict,command="${REMOTE_GATE} remote-type=repo repo1-path=${spec.repository.path}",from="${f.scratch.ip}" `)}`));
    await assertRefused(f.scratch.name, pg, repo);
  });
});
