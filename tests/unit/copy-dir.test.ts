import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { judgeCopyDir, parseClaim, parseCopyDirFacts, renderClaim, type CopyDirFacts, type CopyDirWant } from '../../src/facts/copy-dir';
import { machineHolding, parsePublicKeys } from '../../src/remote/host-keys';

const want: CopyDirWant = { stanza: 'demo', purpose: 'drill', systemIds: ['7300000000000000001'], interrupted: false };
const dir = (o: Partial<CopyDirFacts>): CopyDirFacts => ({ kind: 'directory', inode: '2049:77', entries: 19, running: false, ...o });
const ours = { stanza: 'demo', purpose: 'drill' as const, inode: '2049:77' };

describe('whose a copy directory is', () => {
  test('an empty or absent directory is claimed; a full one only with our claim, on the same inode, holding a copy of the stanza', () => {
    assert.deepEqual(judgeCopyDir(dir({ kind: 'absent', entries: 0 }), want), { use: 'claim' });
    assert.deepEqual(judgeCopyDir(dir({ entries: 0, claim: { ...ours, stanza: 'other' } }), want), { use: 'claim' });
    assert.deepEqual(judgeCopyDir(dir({ claim: ours, systemId: '7300000000000000001', running: true }), want), { use: 'ours' });
    // A restore interrupted before pg_control, or what an interrupted config creation left.
    assert.deepEqual(judgeCopyDir(dir({ claim: ours }), want), { use: 'ours' });
    assert.deepEqual(judgeCopyDir(dir({ claim: ours, systemId: '1' }), { ...want, interrupted: true }), { use: 'ours' });
  });

  test('anything else is refused, naming what is there', () => {
    const refused = (f: CopyDirFacts, w = want) => {
      const v = judgeCopyDir(f, w);
      assert.equal(v.use, 'refused');
      return v.use === 'refused' ? v.why : '';
    };
    assert.match(refused(dir({ systemId: '42', running: true })), /^holds a PostgreSQL cluster \(system id 42, running\) that stanzactl did not create for drills of stanza demo: refused, nothing changed/);
    // Our claim, but another cluster put in the directory since.
    assert.match(refused(dir({ claim: ours, systemId: '42' })), /PostgreSQL cluster \(system id 42, stopped\) that stanzactl did not create/);
    // The directory was removed and made again: the claim was on the old one.
    assert.match(refused(dir({ claim: { ...ours, inode: '2049:5' }, systemId: '7300000000000000001' })), /that stanzactl did not create for drills/);
    assert.match(refused(dir({ claim: { ...ours, purpose: 'restore' }, systemId: '7300000000000000001', running: true })),
      /^holds a copy of stanza demo \(system id 7300000000000000001, running\) that stanzactl restored for a restore --to, not for drills of stanza demo: refused/);
    assert.match(refused(dir({ claim: { ...ours, stanza: 'other' }, systemId: '99' })), /holds a copy of stanza other .* restored for its drills, not for drills of stanza demo/);
    assert.match(refused(dir({ entries: 3 })), /holds 3 entries that stanzactl did not put there for drills/);
    assert.match(refused(dir({ entries: undefined }), { ...want, purpose: 'restore' }), /holds files that stanzactl did not put there for restores/);
    assert.match(refused(dir({ kind: 'other', entries: 0 })), /not a directory/);
  });

  test('facts and claims parse as the scripts print them', () => {
    const claim = renderClaim(ours, '/var/lib/postgresql/15/drill');
    assert.deepEqual(parseClaim(claim), ours);
    assert.equal(parseClaim('demo drill'), undefined);
    assert.deepEqual(parseCopyDirFacts(`directory 2049:77 19\nsystem-id 42\nrunning yes\n${claim}`), dir({ systemId: '42', running: true, claim: ours }));
    assert.deepEqual(parseCopyDirFacts('absent - 0\nsystem-id -\nrunning no\n'), { kind: 'absent', inode: '-', entries: 0, systemId: undefined, running: false, claim: undefined });
    assert.equal(parseCopyDirFacts('directory 2049:77 ?\nsystem-id -\nrunning no\n').entries, undefined);
  });
});

describe('a machine is known by all its host keys', () => {
  const d = mkdtempSync(join(tmpdir(), 'stanzactl-hostkeys-'));
  after(() => rmSync(d, { recursive: true, force: true }));
  const keygen = (name: string, type: string) => {
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `root@${name}`, '-f', join(d, name)]);
    return readFileSync(join(d, `${name}.pub`), 'utf8');
  };

  test('a node pinned with its ed25519 key is found through the RSA key its alias is pinned with', () => {
    const ed = keygen('ed', 'ed25519');
    const rsa = keygen('rsa', 'rsa');
    const other = keygen('other', 'ed25519');
    const held = parsePublicKeys(`${rsa}\n${ed}\nnot a key\n`);
    assert.equal(held.length, 2);
    const node = { what: 'node pg2-srv of stanza demo', keys: parsePublicKeys(ed) };
    // What the worker alone sees: the alias's pinned RSA key is none of the node's pinned keys.
    assert.equal(machineHolding(parsePublicKeys(rsa), [node]), undefined);
    // What the host holds: both, so it is the node.
    assert.equal(machineHolding(held, [{ what: 'x', keys: parsePublicKeys(other) }, node]), node);
  });
});
