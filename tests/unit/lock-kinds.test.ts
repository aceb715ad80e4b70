import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { conflictsOf, LOCK_KIND_NAMES, LOCK_KINDS, lockTableMarkdown, startsOnlyWhen, type LockKind } from '../../src/host/lock-kinds';
import { projectRoot } from '../../src/paths';

const excludes = (a: LockKind, b: LockKind) => LOCK_KINDS[a].excludes[b];

test('the table is symmetric, and a kind conflicts only within its scope', () => {
  for (const a of LOCK_KIND_NAMES) {
    for (const b of LOCK_KIND_NAMES) {
      assert.equal(excludes(a, b), excludes(b, a), `${a} / ${b}`);
      if (excludes(a, b)) assert.equal(LOCK_KINDS[a].scope, LOCK_KINDS[b].scope, `${a} / ${b}`);
    }
    // Two holders never share an entry: a kind excludes at least its own key.
    assert.ok(excludes(a, a), a);
  }
});

test('the rules stanzactl keeps', () => {
  const others = (k: LockKind) => LOCK_KIND_NAMES.filter((x) => excludes(k, x)).sort();
  assert.deepEqual(others('recover'), ['backup', 'failover', 'provision', 'rebuild', 'recover', 'restore', 'switchover']);
  assert.deepEqual(others('provision'), ['failover', 'provision', 'rebuild', 'recover', 'switchover']);
  assert.deepEqual(others('rebuild'), ['failover', 'provision', 'rebuild', 'recover', 'switchover']);
  assert.equal(excludes('rebuild', 'rebuild'), 'same key', 'rebuilds of other nodes side by side');
  assert.deepEqual(others('restore'), ['recover', 'restore']);
  assert.equal(excludes('restore', 'restore'), 'same key', 'restores of other runs side by side');
  assert.deepEqual(others('drill'), ['drill']);
  assert.deepEqual(others('backup'), ['backup', 'failover', 'recover', 'switchover']);
  assert.deepEqual(others('switchover'), ['backup', 'failover', 'provision', 'rebuild', 'recover', 'switchover']);
  assert.deepEqual(others('failover'), others('switchover'));
  assert.deepEqual(others('copy'), ['copy']);
});

test('what a claim passes the script: every entry of a kind, or its own key', () => {
  assert.deepEqual(conflictsOf('rebuild', ['pg2-srv']), ['recover', 'rebuild/pg2-srv', 'provision', 'switchover', 'failover']);
  assert.deepEqual(conflictsOf('copy', ['dir-1', 'port-5433']), ['copy/dir-1', 'copy/port-5433']);
  assert.equal(startsOnlyWhen('provision'), 'A provision starts only when no recover, rebuild, switchover, failover or other provision of the stanza runs');
});

test('docs/durability.md holds the table as lockTableMarkdown() renders it', () => {
  const doc = readFileSync(join(projectRoot(), 'docs', 'durability.md'), 'utf8');
  assert.ok(doc.includes(lockTableMarkdown()), `docs/durability.md must contain:\n${lockTableMarkdown()}`);
});
