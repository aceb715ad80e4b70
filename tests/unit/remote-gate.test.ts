import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { remoteGateScript } from '../../src/render/authorized-keys';
import { program } from '../../src/paths';

const GATE = program('activities', 'pgbackrest-gate');

// The forced command, run by bash as sshd would run it, with a pgbackrest that prints its argv.
const dir = mkdtempSync(join(tmpdir(), 'stanzactl-gate-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const fake = join(dir, 'pgbackrest');
writeFileSync(fake, '#!/bin/bash\nprintf "<%s>" "$@"\n');
chmodSync(fake, 0o755);
const gate = join(dir, 'gate');
writeFileSync(gate, remoteGateScript(GATE, fake));

function run(original: string | undefined, ...pins: string[]): { code: number | null; out: string; err: string } {
  const env: Record<string, string> = { PATH: '/usr/bin:/bin' };
  if (original !== undefined) env.SSH_ORIGINAL_COMMAND = original;
  const r = spawnSync('bash', [gate, ...pins], { env, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const REMOTE = '/usr/bin/pgbackrest --exec-id=4242-2c8e0ebb --log-level-console=off --log-level-file=off --log-level-stderr=error --pg1-path=/var/lib/postgresql/15/main --process=0 --remote-type=repo --repo=1 --repo1-path=/backup_space --stanza=demo archive-get:remote';

test("the gate runs pgBackRest's remote with the words as argv, a quoted value as one word", () => {
  const r = run(REMOTE, 'repo1-path=/backup_space');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `<${REMOTE.split(' ').slice(1).join('><')}>`);
  const q = run('pgbackrest --recovery-option="primary_conninfo=host=10.0.0.1 port=5432" --remote-type=pg --stanza=demo restore:remote');
  assert.equal(q.code, 0, q.err);
  assert.equal(q.out, '<--recovery-option=primary_conninfo=host=10.0.0.1 port=5432><--remote-type=pg><--stanza=demo><restore:remote>');
  assert.equal(run('pgbackrest version').out, '<version>');
});

test('the gate refuses a shell, any other command, shell syntax, host-side paths and programs, and an unpinned value', () => {
  const refused: [string | undefined, RegExp][] = [
    [undefined, /a login without a command/],
    ['', /a login without a command/],
    ['id', /other than pgbackrest/],
    ['bash -c id', /other than pgbackrest/],
    ['/tmp/pgbackrest-not --remote-type=repo info:remote', /other than pgbackrest/],
    ['pgbackrest info', /other than a remote/],
    ['pgbackrest --remote-type=repo archive-get:remote; id', /shell syntax/],
    ['pgbackrest --remote-type=repo archive-get:remote && id', /shell syntax/],
    ['pgbackrest --stanza=$(id) --remote-type=repo archive-get:remote', /shell syntax/],
    ['pgbackrest --stanza="a`id`" --remote-type=repo archive-get:remote', /shell syntax/],
    ['pgbackrest --stanza="$HOME" --remote-type=repo archive-get:remote', /shell syntax/],
    ["pgbackrest --stanza='x' --remote-type=repo archive-get:remote", /shell syntax/],
    ['pgbackrest --remote-type=repo archive-get:remote\nid', /shell syntax/],
    ['pgbackrest --remote-type=repo archive-get:remote extra', /other than a remote/],
    ['pgbackrest stanza --remote-type=repo archive-get:remote', /argument stanza/],
    ['pgbackrest --stanza=demo archive-get:remote', /--remote-type/],
    ['pgbackrest --remote-type=tls archive-get:remote', /--remote-type/],
    ['pgbackrest --config=/tmp/x.conf --remote-type=repo archive-get:remote', /--config/],
    ['pgbackrest --log-path=/home/pgbackrest/.ssh --remote-type=repo archive-get:remote', /--log-path/],
    ['pgbackrest --cmd-ssh=/bin/sh --remote-type=repo archive-get:remote', /--cmd-ssh/],
    ['pgbackrest --repo1-host-cmd=/bin/sh --remote-type=repo archive-get:remote', /--repo1-host-cmd/],
    ['pgbackrest --repo1-path=/home/pgbackrest --remote-type=repo archive-get:remote', /--repo1-path=\/home\/pgbackrest/],
  ];
  for (const [original, why] of refused) {
    const r = run(original, 'repo1-path=/backup_space');
    assert.equal(r.code, 1, `${JSON.stringify(original)} ran: ${r.out}`);
    assert.equal(r.out, '', `${JSON.stringify(original)} reached pgbackrest`);
    assert.match(r.err, /this key runs pgBackRest's remote only/);
    assert.match(r.err, why, JSON.stringify(original));
  }
});

test("a key's pins hold its side: the repository's path at every index and its remote type", () => {
  const atRepository = ['repo1-path=/backup_space', 'remote-type=repo'];
  const atNode = ['pg1-path=/var/lib/postgresql/15/main', 'remote-type=pg'];
  // What pgBackRest itself sends to either side runs.
  assert.equal(run(REMOTE, ...atRepository).code, 0);
  assert.equal(run('pgbackrest --pg=2 --pg2-path=/var/lib/postgresql/15/main --remote-type=pg --stanza=demo backup:remote', ...atNode).code, 0);
  // Another index of the path would be a storage rooted anywhere the account can write (its ~/.ssh);
  // the other remote type would serve that other storage.
  for (const [original, pins, why] of [
    ['pgbackrest --remote-type=repo --repo=2 --repo2-path=/var/lib/pgbackrest/.ssh --stanza=demo archive-push:remote', atRepository, /--repo2-path=/],
    ['pgbackrest --remote-type=pg --pg1-path=/var/lib/pgbackrest/.ssh --repo1-path=/backup_space --stanza=demo backup:remote', atRepository, /--remote-type=pg/],
    ['pgbackrest --pg=2 --pg2-path=/var/lib/postgresql/.ssh --remote-type=pg --stanza=demo backup:remote', atNode, /--pg2-path=/],
    ['pgbackrest --remote-type=repo --repo1-path=/var/lib/postgresql/.ssh --pg1-path=/var/lib/postgresql/15/main --stanza=demo archive-get:remote', atNode, /--remote-type=repo/],
  ] as const) {
    const r = run(original, ...pins);
    assert.equal(r.code, 1, `${original} ran: ${r.out}`);
    assert.equal(r.out, '');
    assert.match(r.err, why, original);
  }
});

test('the gate is only rendered for an absolute program path', () => {
  assert.throws(() => remoteGateScript(GATE, 'pgbackrest'), /absolute/);
  assert.throws(() => remoteGateScript(GATE, '/usr/bin/pg backrest'), /absolute/);
});
