import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker, type InjectedSinks, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { projectRoot } from '../../src/paths';
import type { ScheduledSinks } from '../fixtures/scheduled-activities';

// Histories recorded from real runs (tests/e2e with STANZACTL_RECORD_HISTORY). A workflow change
// that would break workflows already running fails here: use patched() for such changes.
const dir = join(projectRoot(), 'tests', 'histories');
const histories = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('replay of recorded histories', () => {
  // Bundled once, before any replay worker exists: a replay worker takes the SDK's Runtime before it
  // bundles, and the previous worker's Runtime shutdown could land in that gap (a flaky
  // "failed to downcast ... Runtime" TypeError once the bundle grew to take seconds).
  let current: WorkflowBundle;
  let changed: WorkflowBundle;
  before(async () => {
    current = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../src/workflows'),
      workflowInterceptorModules: [require.resolve('../fixtures/scheduled-activities')],
    });
    changed = await bundleWorkflowCode({ workflowsPath: require.resolve('../fixtures/changed-workflow') });
  });

  test('there is at least one recorded history', () => assert.ok(histories.length > 0));

  // SDK 1.24 builds its protobuf types with protobufjs 8 in @temporalio/proto and reads JSON with
  // the protobufjs of @temporalio/common: two copies make every JSON history fail with "type must
  // be a Type". npm nests a copy in each package unless protobufjs 8 is ours at the top (gRPC's
  // proto-loader keeps 7 for itself), so package.json pins it.
  test('the SDK packages share one protobufjs', () => {
    const from = (pkg: string) => require.resolve('protobufjs', { paths: [dirname(require.resolve(`${pkg}/package.json`))] });
    assert.deepEqual(new Set(['@temporalio/common', '@temporalio/proto', '@temporalio/worker'].map(from)).size, 1);
  });

  // As JSON has them: undefined in an argument list is recorded as null.
  const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

  for (const file of histories) {
    test(`${file} replays on the current workflow code, each activity with the arguments recorded`, async () => {
      const history = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      const events = historyFromJSON(history).events ?? [];
      const recorded = events.flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        return a ? [{ type: a.activityType?.name, args: plain((a.input?.payloads ?? []).map((p) => defaultPayloadConverter.fromPayload(p))) }] : [];
      });
      const scheduled: { type: string; args: unknown }[] = [];
      const sinks: InjectedSinks<ScheduledSinks> = {
        scheduled: { activity: { fn: (_info, type, args) => void scheduled.push({ type, args: plain(args) }), callDuringReplay: true } },
      };
      // The recorded run's id: workflows pass it to their activities (lock owners, drill results).
      const workflowId = events[0]?.workflowExecutionStartedEventAttributes?.workflowId ?? file;
      await Worker.runReplayHistory({ workflowBundle: current, sinks }, history, workflowId);
      assert.deepEqual(scheduled, recorded);
    });
  }

  // Recorded before and after the move to SDK 1.24.0: the check must bite on both.
  for (const file of ['provision-sdk-1.13.2.json', 'provision-sdk-1.24.0.json']) {
    test(`a reordered workflow is caught as a determinism violation (${file})`, async () => {
      const history = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      await assert.rejects(
        Worker.runReplayHistory({ workflowBundle: changed }, history, 'changed'),
        DeterminismViolationError,
      );
    });
  }
});
