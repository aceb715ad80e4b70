import { Context, type Info } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { BackupRun } from '../activities/backup';
import type { DrillFacts, DrillResult } from '../facts/drill';
import type { PrimaryFacts, RepositoryFacts, StandbyFacts } from '../facts/status';
import type { BackupType, Spec } from '../spec/schema';
import type { Observations } from '../status/observations';
import { rebuildWorkflowId } from '../workflow-ids';

/**
 * Feeds the worker's gauges from the activities it runs: the results the status activities, runBackup,
 * a drill's record and a rebuild's last step return or take anyway, and their final failures. Nothing is added to any
 * workflow, so their command order (and every recorded history) stays as it was, and it costs no
 * I/O. What another worker ran, this one does not see (README: several workers).
 */

/** A failure the activity's retry policy will not retry: the run it belongs to fails with it. */
export function isFinalFailure(info: Pick<Info, 'attempt' | 'retryPolicy'>, e: unknown): boolean {
  if (e instanceof ApplicationFailure && (e.nonRetryable || (e.type != null && (info.retryPolicy?.nonRetryableErrorTypes ?? []).includes(e.type)))) return true;
  const max = info.retryPolicy?.maximumAttempts;
  return max !== undefined && max > 0 && info.attempt >= max;
}

/** The node of a rebuild, from its workflow id `rebuild-<cluster>-<node>` (not every step takes the node). */
function rebuiltNode(spec: Spec, workflowId: string | undefined): string | undefined {
  const prefix = rebuildWorkflowId(spec, '');
  const node = workflowId?.startsWith(prefix) ? workflowId.slice(prefix.length) : undefined;
  return spec.nodes.some((n) => n.name === node) ? node : undefined;
}

function record(o: Observations, info: Info, args: unknown[], nowMs: number, result: { value: unknown } | { error: unknown }): void {
  const spec = args[0] as Spec;
  const now = nowMs / 1000;
  const ok = 'value' in result;
  // A backup's runBackup step, retries included: from when its first attempt was scheduled.
  const seconds = (nowMs - info.scheduledTimestampMs) / 1000;
  switch (info.activityType) {
    case 'repositoryStatus':
      if (ok) o.repository(spec, result.value as RepositoryFacts, now);
      return;
    case 'primaryStatus':
      if (ok) o.primary(spec, result.value as PrimaryFacts, now);
      return;
    case 'standbyStatus':
      if (ok) o.standby(spec, result.value as StandbyFacts, now);
      return;
    case 'drillStatus': {
      const record = ok ? (result.value as DrillFacts).record : null;
      if (record) o.drillRecord(spec, record);
      return;
    }
    case 'recordDrill':
      if (ok) o.drillRun(spec, args[1] as DrillResult);
      return;
    case 'runBackup': {
      if (!ok && !isFinalFailure(info, result.error)) return;
      const type = args[1] as BackupType;
      const repo = (args[3] as number | undefined) ?? 1;
      if (!ok) return o.backupRun(spec, type, { ok, at: now, seconds }, undefined, repo);
      const b = (result.value as BackupRun).backup;
      o.backupRun(spec, type, { ok, at: now, seconds }, {
        label: b.label, type: b.type, startedAt: b.startedAt, stoppedAt: b.stoppedAt,
        databaseBytes: b.databaseSize, deltaBytes: b.deltaSize, repoBytes: b.repoSize, repoDeltaBytes: b.repoDeltaSize,
      }, repo);
      return;
    }
    default:
      // A rebuild succeeds with its last step (the node replayed the marker) and fails with any step's final failure.
      if (info.workflowType !== 'rebuildStandby') return;
      if (ok ? info.activityType === 'waitMarkerReplayed' : isFinalFailure(info, result.error)) {
        const node = rebuiltNode(spec, info.workflowExecution?.workflowId);
        if (node !== undefined) o.rebuild(spec, node, { ok, at: now });
      }
  }
}

/** The activity interceptor a worker with metrics installs; `clock` = epoch milliseconds. */
export function recordingInterceptor(o: Observations, clock: () => number = Date.now): ActivityInterceptorsFactory {
  return () => ({
    inbound: {
      execute: async (input, next) => {
        const info = Context.current().info;
        let result: unknown;
        try {
          result = await next(input);
        } catch (error) {
          record(o, info, input.args, clock(), { error });
          throw error;
        }
        record(o, info, input.args, clock(), { value: result });
        return result;
      },
    },
  });
}
