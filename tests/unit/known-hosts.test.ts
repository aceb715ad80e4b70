import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe as suite, test } from 'node:test';
import { blobKeyType, fingerprint, keysFor, parseKnownHosts, verifyHostKey } from '../../src/remote/known-hosts';

// Real keys and real hashed entries, made by ssh-keygen, so the parser is checked against OpenSSH.
const dir = mkdtempSync(join(tmpdir(), 'stanzactl-kh-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Key {
  type: string;
  base64: string;
  blob: Buffer;
  file: string;
}

function keygen(name: string, type: string): Key {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  const [t, b64] = readFileSync(`${file}.pub`, 'utf8').split(' ');
  return { type: t, base64: b64, blob: Buffer.from(b64, 'base64'), file: `${file}.pub` };
}

let a: Key;
let b: Key;
let c: Key;
before(() => {
  a = keygen('a', 'ed25519');
  b = keygen('b', 'ecdsa');
  c = keygen('c', 'ed25519');
});

const line = (hosts: string, k: Key) => `${hosts} ${k.type} ${k.base64}`;

suite('parseKnownHosts', () => {
  test('skips comments and blank lines, reads names, ips, ports and trailing comments', () => {
    const entries = parseKnownHosts(
      ['# a comment', '', '   ', line('db1,10.0.0.1', a) + ' a trailing comment', '\t' + line('[db2]:2222', b), '  # indented comment'].join('\n'),
    );
    assert.equal(entries.length, 2);
    assert.equal(entries[0].line, 4);
    assert.equal(entries[0].keyType, 'ssh-ed25519');
    assert.deepEqual(entries[0].key, a.blob);
    assert.deepEqual(entries[0].hosts, [
      { kind: 'plain', pattern: 'db1', negated: false },
      { kind: 'plain', pattern: '10.0.0.1', negated: false },
    ]);
    assert.equal(entries[1].keyType, 'ecdsa-sha2-nistp256');
    assert.deepEqual(entries[1].hosts, [{ kind: 'plain', pattern: '[db2]:2222', negated: false }]);
  });

  test('reads markers', () => {
    const entries = parseKnownHosts([`@revoked ${line('*', a)}`, `@cert-authority ${line('*.lab', b)}`].join('\n'));
    assert.deepEqual(
      entries.map((e) => e.marker),
      ['revoked', 'cert-authority'],
    );
  });

  test('refuses malformed lines with their number', () => {
    assert.throws(() => parseKnownHosts(`# ok\n${line('db1', a)}\ndb2 ssh-ed25519`), /line 3/);
    assert.throws(() => parseKnownHosts('db1 ssh-ed25519 not*base64'), /line 1: key is not base64/);
    assert.throws(() => parseKnownHosts(`@bogus ${line('db1', a)}`), /unknown marker @bogus/);
    assert.throws(() => parseKnownHosts(`db1 ssh-rsa ${a.base64}`), /does not match its type ssh-rsa/);
    assert.throws(() => parseKnownHosts(`|1|abc ${a.type} ${a.base64}`), /malformed hashed host/);
  });
});

suite('keysFor', () => {
  test('finds keys by name or address, port 22 bare, other ports as [host]:port', () => {
    const e = parseKnownHosts([line('db1,10.0.0.1', a), line('[db1]:2222', b), line('[10.0.0.9]:2222', c)].join('\n'));
    assert.deepEqual(keysFor(e, ['db1'], 22).accepted, [a.blob]);
    assert.deepEqual(keysFor(e, ['nope', '10.0.0.1'], 22).accepted, [a.blob]);
    assert.deepEqual(keysFor(e, ['db1', '10.0.0.9'], 2222).accepted, [b.blob, c.blob]);
    assert.deepEqual(keysFor(e, ['10.0.0.1'], 2222).accepted, [], 'a port-22 entry does not pin another port');
    assert.deepEqual(keysFor(e, ['DB1'], 22).accepted, [a.blob], 'host names are case-insensitive');
  });

  test('hashed entries made by ssh-keygen -H match the same names ssh-keygen -F finds', () => {
    const file = join(dir, 'known_hosts_hashed');
    writeFileSync(file, [line('db1,10.0.0.1', a), line('[db2]:2222', b), `@revoked ${line('db3', c)}`].join('\n') + '\n');
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const text = readFileSync(file, 'utf8');
    assert.ok(!/db1|db2|10\.0\.0\.1/.test(text.replace(/^#.*$/gm, '')), 'names are hashed');
    const e = parseKnownHosts(text);
    // ssh-keygen -H writes one hashed line per name and leaves marker lines as they were.
    assert.equal(e.filter((x) => x.marker === undefined && x.hosts.every((h) => h.kind === 'hashed')).length, 3);
    for (const [names, port, want] of [
      [['db1'], 22, [a.blob]],
      [['10.0.0.1'], 22, [a.blob]],
      [['db2'], 2222, [b.blob]],
      [['db2'], 22, []],
      [['db1'], 2222, []],
    ] as const) {
      assert.deepEqual(keysFor(e, [...names], port).accepted, want, `${names} port ${port}`);
      const oracle = spawnFind(file, port === 22 ? names[0] : `[${names[0]}]:${port}`);
      assert.equal(oracle, want.length > 0, `ssh-keygen -F agrees for ${names} port ${port}`);
    }
    assert.deepEqual(keysFor(e, ['db3'], 22), { accepted: [], revoked: [c.blob] });
  });

  test('@revoked keys are listed apart, @cert-authority lines are ignored', () => {
    const e = parseKnownHosts([line('db1', a), `@revoked ${line('*', b)}`, `@cert-authority ${line('db1', c)}`].join('\n'));
    assert.deepEqual(keysFor(e, ['db1'], 22), { accepted: [a.blob], revoked: [b.blob] });
  });

  test('wildcards and negation', () => {
    const e = parseKnownHosts([line('*.lab,!evil.lab', a), line('10.0.0.?', b)].join('\n'));
    assert.deepEqual(keysFor(e, ['pg1.lab'], 22).accepted, [a.blob]);
    assert.deepEqual(keysFor(e, ['evil.lab'], 22).accepted, []);
    assert.deepEqual(keysFor(e, ['lab'], 22).accepted, []);
    assert.deepEqual(keysFor(e, ['10.0.0.7'], 22).accepted, [b.blob]);
    assert.deepEqual(keysFor(e, ['10.0.0.17'], 22).accepted, []);
  });
});

suite('verifyHostKey and fingerprint', () => {
  test('verdicts: accepted, unknown, changed, and revoked over any pin', () => {
    assert.equal(verifyHostKey(a.blob, { accepted: [b.blob, a.blob], revoked: [] }), 'accepted');
    assert.equal(verifyHostKey(a.blob, { accepted: [], revoked: [] }), 'unknown');
    assert.equal(verifyHostKey(a.blob, { accepted: [c.blob], revoked: [] }), 'changed');
    assert.equal(verifyHostKey(a.blob, { accepted: [a.blob], revoked: [a.blob] }), 'revoked');
  });

  test('fingerprint is what ssh-keygen -l prints', () => {
    for (const k of [a, b]) {
      const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', k.file], { encoding: 'utf8' }).split(' ')[1];
      assert.equal(fingerprint(k.blob), printed);
    }
  });

  test('blobKeyType reads the type a key declares', () => {
    assert.equal(blobKeyType(a.blob), 'ssh-ed25519');
    assert.equal(blobKeyType(b.blob), 'ecdsa-sha2-nistp256');
    assert.equal(blobKeyType(Buffer.from([0, 0, 0, 9, 65])), undefined);
  });
});

/** ssh-keygen -F as the oracle: does OpenSSH find `name` in the file? (exit 0 = found) */
function spawnFind(file: string, name: string): boolean {
  try {
    return execFileSync('ssh-keygen', ['-F', name, '-f', file], { encoding: 'utf8' }).includes('found');
  } catch {
    return false;
  }
}
