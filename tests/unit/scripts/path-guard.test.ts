import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { GUARDED, refusalOf } from '../../../src/host/path-guard';

// The guard is bash run as root; here it runs on this machine's bash, in a directory tree made for
// it below the build output (its ancestors must be root's alone, which /tmp's are not).
const base = join(__dirname, '..', '..', '..');
const rootOnly = (dir: string): boolean => {
  for (let d = dir; ; d = dirname(d)) {
    const s = statSync(d);
    if (s.uid !== 0 || (s.mode & 0o022) !== 0) return false;
    if (d === '/') return true;
  }
};
const ACCOUNT = 'nobody';
const id = spawnSync('id', ['-u', ACCOUNT], { encoding: 'utf8' });
const uid = id.status === 0 ? Number(id.stdout) : NaN;
const skip = process.getuid?.() !== 0 || !rootOnly(base) || !Number.isInteger(uid) ? 'needs root, a root-only build directory and user nobody' : false;

test('only our marked refusal counts as one, not a tool that happens to exit 90', () => {
  assert.equal(refusalOf({ code: 90, stderr: 'ERROR: [090]: something of the tool\n' }), undefined);
  assert.equal(refusalOf({ code: 1, stderr: 'stanzactl refuses: no\n' }), undefined);
  assert.equal(refusalOf({ code: 90, stderr: 'realpath: x\nstanzactl refuses: /a is a link\n' }), '/a is a link');
});

describe('path guard', { skip }, () => {
  const t = skip ? '' : mkdtempSync(join(base, '.path-guard-'));
  after(() => t && rmSync(t, { recursive: true, force: true }));
  if (t) {
    chmodSync(t, 0o755);
    mkdirSync(join(t, 'acct/sub'), { recursive: true });
    chownSync(join(t, 'acct'), uid, uid);
    symlinkSync('/etc', join(t, 'acct/evil'));
    symlinkSync('/etc/shadow', join(t, 'acct/shadow'));
    symlinkSync(t, join(t, 'admin-link'));
    mkdirSync(join(t, 'shared'), { mode: 0o777 });
    chmodSync(join(t, 'shared'), 0o777);
  }

  /** Runs `id -un` on `path` through the guard: who acted, or the refusal. */
  function who(path: string, owner = ''): { actor?: string; refused?: string } {
    const r = spawnSync('bash', ['-c', GUARDED, 'stanzactl', 'id -un', owner, path], { encoding: 'utf8' });
    const refused = refusalOf({ code: r.status, stderr: r.stderr });
    if (refused !== undefined) return { refused };
    assert.equal(r.status, 0, r.stderr);
    return { actor: r.stdout.trim() };
  }

  test('root acts where only root can change the directories on the way', () => {
    assert.deepEqual(who(`${t}/file`), { actor: 'root' });
    assert.deepEqual(who(`${t}/missing/deeper/file`), { actor: 'root' });
  });

  test('below a directory an account owns, the account acts', () => {
    assert.deepEqual(who(`${t}/acct/file`, ACCOUNT), { actor: ACCOUNT });
    assert.deepEqual(who(`${t}/acct/sub/missing/file`, ACCOUNT), { actor: ACCOUNT });
    assert.deepEqual(who(`${t}/acct/file`), { actor: ACCOUNT }, 'a read: as whoever controls it');
  });

  test('a link an account could have planted is refused, on the way or at the path', () => {
    assert.match(who(`${t}/acct/evil/passwd`, ACCOUNT).refused ?? '', /acct\/evil is a symbolic link \(to \/etc\) in a directory nobody controls/);
    assert.match(who(`${t}/acct/shadow`, ACCOUNT).refused ?? '', /acct\/shadow is a symbolic link \(to \/etc\/shadow\): stanzactl does not follow it/);
    assert.match(who(`${t}/admin-link`).refused ?? '', /admin-link is a symbolic link/, 'the path itself, even a root-made link');
  });

  test('a link only root could have made is followed, and where it leads is walked too', () => {
    assert.deepEqual(who(`${t}/admin-link/file`), { actor: 'root' });
    assert.deepEqual(who(`${t}/admin-link/acct/file`, ACCOUNT), { actor: ACCOUNT });
    assert.match(who(`${t}/admin-link/acct/evil/x`, ACCOUNT).refused ?? '', /in a directory nobody controls/);
  });

  test('a path that should belong to another account than the one in control is refused', () => {
    assert.match(who(`${t}/acct/file`, 'root').refused ?? '', /should belong to root, but nobody controls the directory it is in/);
  });

  test('a root-owned directory others can write to, and paths that are not plain absolute ones', () => {
    assert.match(who(`${t}/shared/file`, ACCOUNT).refused ?? '', /shared is writable by accounts other than root/);
    for (const p of ['relative/file', `${t}/acct/../file`, `${t}/./file`, `${t}/acct/`, `${t}//file`]) {
      assert.match(who(p).refused ?? '', /is not an absolute, normalized path/, p);
    }
  });
});
