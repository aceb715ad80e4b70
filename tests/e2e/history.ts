import { execFileSync } from 'node:child_process';
import { tsToMs } from '@temporalio/common/lib/time';
import type { temporal } from '@temporalio/proto';
import { temporalCli } from '../../src/paths';

export interface ActivityRun {
  readonly type: string;
  readonly summary: string;
  readonly attempt: number;
  readonly completed: boolean;
}

/** Each scheduled activity with the attempt that ended it, read from a workflow's history. */
export function activityRuns(history: temporal.api.history.v1.IHistory): ActivityRun[] {
  const scheduled = new Map<string, { type: string; summary: string; attempt: number; completed: boolean }>();
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) {
      const summary = e.userMetadata?.summary?.data ? Buffer.from(e.userMetadata.summary.data).toString() : '';
      scheduled.set(id, { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', summary, attempt: 0, completed: false });
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) scheduled.get(String(started.scheduledEventId))!.attempt = started.attempt ?? 0;
    const done = e.activityTaskCompletedEventAttributes;
    if (done) scheduled.get(String(done.scheduledEventId))!.completed = true;
  }
  return [...scheduled.values()];
}

/** The types of the activities scheduled before `ms` (epoch) and not completed by then, e.g. a crash's victims. */
export function inFlightAt(history: temporal.api.history.v1.IHistory, ms: number): string[] {
  const scheduled = new Map<string, string>();
  const done = new Set<string>();
  for (const e of history.events ?? []) {
    const at = tsToMs(e.eventTime);
    if (at > ms) continue;
    const a = e.activityTaskScheduledEventAttributes;
    if (a) scheduled.set(String(e.eventId), a.activityType?.name ?? '?');
    const c = e.activityTaskCompletedEventAttributes;
    if (c) done.add(String(c.scheduledEventId));
  }
  return [...scheduled].filter(([id]) => !done.has(id)).map(([, type]) => type);
}

/** A workflow's history as `temporal workflow show -o json` prints it: the form replay reads. */
export function historyJson(address: string, workflowId: string): string {
  return execFileSync(temporalCli(), ['workflow', 'show', '--address', address, '--workflow-id', workflowId, '--output', 'json'], { encoding: 'utf8' });
}
