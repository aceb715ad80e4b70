import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { devServerArgs, SCHEDULER_WORKER_OPTIONS } from '../../src/server';

describe('embedded dev server command line', () => {
  test('SQLite in WAL mode with every commit synced, and the Schedules\' worker polling with 16 workflow task pollers', () => {
    const args = devServerArgs('/state/temporal.db', '127.0.0.1', 7233, 8233).join(' ');
    assert.match(args, /^server start-dev --db-filename \/state\/temporal\.db --ip 127\.0\.0\.1 --port 7233 --log-level warn /);
    assert.match(args, / --sqlite-pragma journal_mode=WAL --sqlite-pragma synchronous=FULL /);
    assert.match(args, / --dynamic-config-value worker\.perNamespaceWorkerOptions=\{"MaxConcurrentWorkflowTaskPollers":16,"MaxConcurrentActivityTaskPollers":4\} /);
    assert.equal(SCHEDULER_WORKER_OPTIONS.MaxConcurrentWorkflowTaskPollers, 16);
    assert.match(args, / --ui-port 8233$/);
    assert.match(devServerArgs('/d', '0.0.0.0', 7000, 8000, true).join(' '), / --headless$/);
  });
});
