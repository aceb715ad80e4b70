import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { DEFAULT_SECRETS_DIR, resolveSecret, secretsDir } from '../../src/activities/secrets';

// Real files on the machine running the tests: the worker's side of `{file: …}` secrets.
const root = mkdtempSync(join(tmpdir(), 'stanzactl-secrets-'));
const dir = join(root, 'secrets');
mkdirSync(dir);
writeFileSync(join(dir, 'replication'), 's3cret\n');
writeFileSync(join(root, 'outside'), 'not yours\n');
symlinkSync(join(root, 'outside'), join(dir, 'escape'));
symlinkSync(join(dir, 'replication'), join(dir, 'alias'));
symlinkSync(root, join(dir, 'up'));

async function refusal(file: string): Promise<ApplicationFailure> {
  try {
    await resolveSecret({ file }, 'replication.password');
  } catch (e) {
    assert.ok(e instanceof ApplicationFailure, String(e));
    assert.equal(e.nonRetryable, true);
    return e;
  }
  assert.fail(`${file} was read`);
}

test('{file:} secrets: only inside STANZACTL_SECRETS_DIR, symlinks resolved', async (t) => {
  const before = process.env.STANZACTL_SECRETS_DIR;
  process.env.STANZACTL_SECRETS_DIR = dir;
  t.after(() => {
    if (before === undefined) delete process.env.STANZACTL_SECRETS_DIR;
    else process.env.STANZACTL_SECRETS_DIR = before;
    rmSync(root, { recursive: true, force: true });
  });
  assert.equal((await resolveSecret({ file: join(dir, 'replication') }, 'replication.password')).value, 's3cret');
  assert.equal((await resolveSecret({ file: join(dir, 'alias') }, 'replication.password')).value, 's3cret', 'a symlink that stays inside is fine');
  for (const file of [join(root, 'outside'), join(dir, 'escape'), join(dir, 'up', 'outside'), '/etc/passwd', `${dir}-sibling/x`]) {
    const e = await refusal(file);
    assert.equal(e.type, 'SecretRefused', `${file}: ${e.message}`);
    assert.match(e.message, /outside the worker's secrets directory/);
    assert.ok(e.message.includes(file) && e.message.includes(dir), e.message);
  }
  assert.equal((await refusal(join(dir, 'missing'))).type, 'SecretMissing');
});

test('{file:} secrets: the documented default directory when the operator names none', () => {
  const before = process.env.STANZACTL_SECRETS_DIR;
  delete process.env.STANZACTL_SECRETS_DIR;
  try {
    assert.equal(secretsDir(), DEFAULT_SECRETS_DIR);
    assert.equal(DEFAULT_SECRETS_DIR, '/etc/stanzactl/secrets');
  } finally {
    if (before !== undefined) process.env.STANZACTL_SECRETS_DIR = before;
  }
});
