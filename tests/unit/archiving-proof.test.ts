import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { archivingProven, RECENT_ARCHIVE_SECONDS, stanzaServes } from '../../src/facts/archiving-proof';
import { parseInfo } from '../../src/facts/pgbackrest-info';
import type { ArchiverFacts } from '../../src/facts/status';

const fixtures = resolve(__dirname, '../../../tests/fixtures/pgbackrest');
const info = (file: string) => parseInfo(readFileSync(`${fixtures}/${file}`, 'utf8'))[0];
// info-alpha-backups.json: stanza alpha ok, system identifier 7712077147122823720, archive 000000010000000000000001..07.
const ALPHA = info('info-alpha-backups.json');
const SYS = '7712077147122823720';
const NOW = 1_800_000_000;
const archiver = (over: Partial<ArchiverFacts> = {}): ArchiverFacts => ({
  archiveMode: 'on', archivedCount: 7, lastArchivedWal: '000000010000000000000007', lastArchivedAt: NOW - 20, failedCount: 0, lastFailedWal: null, lastFailedAt: null, ...over,
});
const why = (v: ReturnType<typeof archivingProven>) => (v.ok ? `proven: ${v.detail}` : v.why);

describe('verified from facts instead of stanza-create and check', () => {
  test('a stanza in good order for this primary needs no stanza-create; a missing, broken or foreign one does', () => {
    assert.deepEqual(stanzaServes(ALPHA, 'alpha', SYS), { ok: true, detail: `stanza alpha is ok and serves system identifier ${SYS}` });
    assert.match(why(stanzaServes(undefined, 'alpha', SYS)), /has no stanza alpha/);
    assert.match(why(stanzaServes(info('info-missing-stanza.json'), 'alpha', SYS)), /status of stanza alpha is ".*" \(code [1-9]/);
    assert.match(why(stanzaServes(ALPHA, 'alpha', '123')), /serves system identifier 7712077147122823720, the primary is 123/);
  });

  test('the last archived segment in the repository, recent, no failure since: proven, and said so', () => {
    assert.equal(why(archivingProven(archiver(), ALPHA, 'alpha', SYS, NOW)),
      `proven: stanza alpha is ok and serves system identifier ${SYS}; 000000010000000000000007, archived 20 s ago with no failure since, is in the repository`);
  });

  test('anything short of that runs the check, and says why', () => {
    const cases: [Partial<ArchiverFacts>, RegExp][] = [
      [{ archiveMode: 'off' }, /archive_mode is off/],
      [{ lastArchivedWal: null, lastArchivedAt: null }, /archived nothing since its statistics were reset/],
      [{ lastArchivedWal: '00000002.history' }, /00000002\.history, is not a WAL segment or a backup's history file/],
      [{ lastArchivedWal: '000000010000000000000008.00000028.backup' }, /000000010000000000000008\.00000028\.backup, archived last, is not in the repository \(it holds up to 000000010000000000000007\)/],
      [{ lastFailedWal: '000000010000000000000008', lastFailedAt: NOW - 10 }, /failed \(000000010000000000000008\) after its last success/],
      [{ lastArchivedAt: NOW - RECENT_ARCHIVE_SECONDS - 1 }, /archived 301 s ago, longer than 300 s/],
      // pg_stat_archiver counts a segment pgBackRest dropped (archive-push-queue-max) as archived.
      [{ lastArchivedWal: '000000010000000000000008' }, /000000010000000000000008, archived last, is not in the repository \(it holds up to 000000010000000000000007\)/],
    ];
    for (const [over, re] of cases) assert.match(why(archivingProven(archiver(over), ALPHA, 'alpha', SYS, NOW)), re);
    assert.match(why(archivingProven(archiver(), ALPHA, 'alpha', '42', NOW)), /the primary is 42/);
  });

  test('a failure before the last success is history; a later timeline\'s name is compared by position', () => {
    assert.equal(archivingProven(archiver({ lastFailedWal: '000000010000000000000005', lastFailedAt: NOW - 60 }), ALPHA, 'alpha', SYS, NOW).ok, true);
    assert.equal(archivingProven(archiver({ lastArchivedWal: '000000020000000000000006' }), ALPHA, 'alpha', SYS, NOW).ok, true);
  });

  test('right after a backup the last file archived is its history file: proven when its segment is in the repository', () => {
    assert.match(why(archivingProven(archiver({ lastArchivedWal: '000000010000000000000007.00000028.backup' }), ALPHA, 'alpha', SYS, NOW)),
      /^proven: .*000000010000000000000007\.00000028\.backup, archived 20 s ago with no failure since, is in the repository$/);
  });
});
