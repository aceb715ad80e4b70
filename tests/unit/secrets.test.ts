import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { DEFAULT_SECRET_ENV_PREFIX, DEFAULT_SECRETS_DIR, resolveReplicationPassword, resolveSecret, secretsDir, withResolvedRepositoryOptions } from '../../src/activities/secrets';
import { passwordText, type Spec } from '../../src/spec/schema';
import { smallSpec } from './small-spec';

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
    await resolveSecret({ file }, 'replication.password', passwordText);
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
  assert.equal((await resolveSecret({ file: join(dir, 'replication') }, 'replication.password', passwordText)).value, 's3cret');
  assert.equal((await resolveSecret({ file: join(dir, 'alias') }, 'replication.password', passwordText)).value, 's3cret', 'a symlink that stays inside is fine');
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

/** Runs `body` with the worker's environment changed as `env` says (undefined: unset), then restores it. */
async function withEnv(env: Record<string, string | undefined>, body: () => Promise<void>): Promise<void> {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  const set = (vars: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  };
  set(env);
  try {
    await body();
  } finally {
    set(before);
  }
}

const cipherFrom = (ref: { env: string } | { file: string }): Spec => ({
  ...smallSpec(),
  repository: { ...smallSpec().repository, options: { 'repo1-cipher-type': 'aes-256-cbc', 'repo1-cipher-pass': ref } },
});

async function refused(p: Promise<unknown>, type: string, names: string, value: string): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.ok(e instanceof ApplicationFailure, String(e));
    assert.equal(e.nonRetryable, true);
    assert.equal(e.type, type, e.message);
    assert.ok(e.message.includes(names), `${e.message} does not name ${names}`);
    assert.ok(!e.message.includes(value.trim()), `${e.message} shows the value`);
    return true;
  });
}

test('{env:} secrets: only variables named with the operator\'s prefix (default STANZACTL_SECRET_); others refused by name, never read out', async () => {
  assert.equal(DEFAULT_SECRET_ENV_PREFIX, 'STANZACTL_SECRET_');
  const key = 'temporal-api-key-value';
  await withEnv({ STANZACTL_SECRET_ENV_PREFIX: undefined, TEMPORAL_API_KEY: key, STANZACTL_SECRET_CIPHER: 'c1pher+Pass/=', STANZACTL_SECRETS_DIR: '/etc/stanzactl/secrets' }, async () => {
    const resolved = await withResolvedRepositoryOptions(cipherFrom({ env: 'STANZACTL_SECRET_CIPHER' }));
    assert.equal(resolved.repository.options?.['repo1-cipher-pass'], 'c1pher+Pass/=');
    // The worker's Temporal credentials, and a stanzactl setting that is no secret.
    await refused(withResolvedRepositoryOptions(cipherFrom({ env: 'TEMPORAL_API_KEY' })), 'SecretRefused', 'TEMPORAL_API_KEY', key);
    await refused(withResolvedRepositoryOptions(cipherFrom({ env: 'STANZACTL_SECRETS_DIR' })), 'SecretRefused', 'STANZACTL_SECRETS_DIR', '/etc/stanzactl/secrets');
    // Refused by its name whether or not it is set: a spec learns nothing of the worker's environment.
    await refused(withResolvedRepositoryOptions(cipherFrom({ env: 'NOT_SET_ANYWHERE' })), 'SecretRefused', 'STANZACTL_SECRET_', '\0');
    await refused(resolveReplicationPassword({ ...smallSpec(), replication: { user: 'r', password: { env: 'TEMPORAL_API_KEY' } } }), 'SecretRefused', 'TEMPORAL_API_KEY', key);
  });
  await withEnv({ STANZACTL_SECRET_ENV_PREFIX: 'SITE_PG_', SITE_PG_CIPHER: 'site-cipher', STANZACTL_SECRET_CIPHER: 'c1pher' }, async () => {
    assert.equal((await withResolvedRepositoryOptions(cipherFrom({ env: 'SITE_PG_CIPHER' }))).repository.options?.['repo1-cipher-pass'], 'site-cipher');
    await refused(withResolvedRepositoryOptions(cipherFrom({ env: 'STANZACTL_SECRET_CIPHER' })), 'SecretRefused', 'SITE_PG_', 'c1pher');
  });
});

test('secret values are held to the rule of a literal in the same field; the refusal names the source, never the value', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'stanzactl-secret-values-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // An ini line of its own would set any option (a program pgBackRest runs, too); "$(...)" would reach a shell.
  const injected = 'pass\n[global]\nrepo1-host-cmd=/tmp/x';
  writeFileSync(join(dir, 'cipher'), `${injected}\n`);
  writeFileSync(join(dir, 'password'), 'line one\nline two\n');
  writeFileSync(join(dir, 'fine'), 'c1pher+Pass/=\n');
  await withEnv({ STANZACTL_SECRETS_DIR: dir, STANZACTL_SECRET_INJECTED: injected, STANZACTL_SECRET_SHELL: 'a$(id)b', STANZACTL_SECRET_PW: 'pâss-word', STANZACTL_SECRET_CR: 'pw\r' }, async () => {
    await refused(withResolvedRepositoryOptions(cipherFrom({ env: 'STANZACTL_SECRET_INJECTED' })), 'BadSecret', 'environment variable STANZACTL_SECRET_INJECTED', 'repo1-host-cmd');
    await refused(withResolvedRepositoryOptions(cipherFrom({ file: join(dir, 'cipher') })), 'BadSecret', join(dir, 'cipher'), 'repo1-host-cmd');
    await refused(withResolvedRepositoryOptions(cipherFrom({ env: 'STANZACTL_SECRET_SHELL' })), 'BadSecret', 'STANZACTL_SECRET_SHELL', 'a$(id)b');
    const password = (ref: { env: string } | { file: string }) => resolveReplicationPassword({ ...smallSpec(), replication: { user: 'r', password: ref } });
    await refused(password({ file: join(dir, 'password') }), 'BadSecret', join(dir, 'password'), 'line two');
    await refused(password({ env: 'STANZACTL_SECRET_PW' }), 'BadSecret', 'STANZACTL_SECRET_PW', 'pâss');
    await refused(password({ env: 'STANZACTL_SECRET_CR' }), 'BadSecret', 'STANZACTL_SECRET_CR', 'pw\r');
    // What a literal may hold passes: the file's one trailing newline is no part of the value.
    assert.equal((await withResolvedRepositoryOptions(cipherFrom({ file: join(dir, 'fine') }))).repository.options?.['repo1-cipher-pass'], 'c1pher+Pass/=');
    assert.equal((await password({ file: join(dir, 'fine') })).value, 'c1pher+Pass/=');
  });
});
