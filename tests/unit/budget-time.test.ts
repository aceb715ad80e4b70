import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Context } from '@temporalio/activity';
import type { BackupSource, LockResult } from '../../src/activities/backup';
import { BUDGET_QUERY, budgetWorkflowId, type BudgetState } from '../../src/budget/protocol';
import type { Topology } from '../../src/facts/topology';
import { smallSpec } from './small-spec';
import { ok, timeSkipping, type Script } from './time-skipping';

// The repository host's budget (workflows/budget.ts) with the real backup workflow in front of it,
// on the time-skipping test server. Its liveness check and continue-as-new are proved on a real
// server (tests/e2e/fleet-budget.test.ts): this server skips the check's timer while a held slot's
// activity runs, and fails a continue-as-new (test server 1.40: "missing method getNamespace").

const names = ['claimBackupLock', 'observeTopology', 'chooseBackupSource', 'runBackup', 'releaseBackupLock'] as const;

const spec = (stanza: string) => smallSpec({ stanza, repository: { host: 'backup-srv', user: 'pgbackrest', path: '/backup_space', retentionFull: 2, budget: 1 } });
const claimed = (): LockResult => ({ changed: true, claimed: true, detail: 'claimed' });
const asSpecSays = (): Topology => ({ primary: 'pg1', specPrimary: 'pg1', nodes: [{ name: 'pg1', seenAs: 'primary', timeline: 1, streaming: false }], problems: [] });
const fromPrimary = (): BackupSource => ({ changed: false, node: 'pg1', role: 'primary', why: 'backups.fromStandby is false', backupStandby: false, detail: 'from the primary pg1' });
const done = { changed: true, detail: 'backed up', seconds: 1, copiedFrom: ['pg1'], backup: { label: 'L', type: 'full', databaseSize: 1, repoSize: 1, start: 0, stop: 1 } };

/** A backup whose pgBackRest run lasts until `until` resolves; `started` marks when it began. */
function backupScript(until: Promise<void> = Promise.resolve(), started: () => void = () => undefined): Script {
  return {
    claimBackupLock: claimed, observeTopology: asSpecSays, chooseBackupSource: fromPrimary, releaseBackupLock: ok('released'),
    runBackup: async () => {
      started();
      // Heartbeats as the real one does: a held slot can last longer than the heartbeat timeout.
      const beat = setInterval(() => Context.current().heartbeat(), 1000);
      try {
        await until;
      } finally {
        clearInterval(beat);
      }
      return done as never;
    },
  };
}

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

async function eventually<T>(what: string, f: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never: ${what}`);
}

describe('repository budget on the time-skipping test server', () => {
  const { run, client } = timeSkipping('budget-time', names);
  const budget = () => client().workflow.getHandle(budgetWorkflowId('backup-srv'));
  const state = () => budget().query<BudgetState>(BUDGET_QUERY);

  test('a budget of 1: the second stanza waits in the queue and runs once the first gave its slot back', async () => {
    const first = gate();
    const firstStarted = gate();
    let secondStartedWhileFirstHeld = false;
    let firstReleased = false;
    const a = run('budget-a', backupScript(first.promise, firstStarted.open), 'backupStanza', [spec('a'), { type: 'full' }]);
    await firstStarted.promise;
    const b = run('budget-b', backupScript(Promise.resolve(), () => void (secondStartedWhileFirstHeld = !firstReleased)), 'backupStanza', [spec('b'), { type: 'full' }]);
    const queued = await eventually('b queued', async () => {
      const s = await state();
      return s.queue.length === 1 ? s : undefined;
    });
    assert.deepEqual(queued.holders.map((h) => h.what), ['full backup of a']);
    assert.deepEqual(queued.queue.map((q) => q.what), ['full backup of b']);
    firstReleased = true;
    first.open();
    const [ra, rb] = await Promise.all([a, b]);
    assert.equal(ra.failure, undefined);
    assert.equal(rb.failure, undefined);
    assert.equal(secondStartedWhileFirstHeld, false);
    assert.match(rb.trail().find((t) => t.startsWith('queue for'))!, /granted after/);
    assert.deepEqual(await state(), { capacity: 1, holders: [], queue: [] });
  });
});
