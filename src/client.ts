import {
  ActivityFailure, ApplicationFailure, Client, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowIdConflictPolicy, WorkflowNotFoundError,
  type WorkflowExecutionDescription, type WorkflowHandle, type WorkflowHandleWithFirstExecutionRunId, type WorkflowStartOptions,
} from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { connectTemporal, temporalTarget, type TemporalTarget } from './connection';
import { TASK_QUEUE } from './paths';
import { specDifferences } from './spec/compare';
import type { Spec } from './spec/schema';
import { PROGRESS_QUERY, provisionWorkflowId } from './workflow-ids';
import type { Progress, StepProgress } from './workflows/progress';
import type { ProvisionResult } from './workflows/provision';

/**
 * A client of the Temporal server the environment configures (src/connection.ts); `address`
 * replaces only the address (tests and benches pass their own dev server's).
 */
export async function connectClient(address?: string): Promise<Client> {
  return clientFor(temporalTarget(address === undefined ? process.env : { ...process.env, TEMPORAL_ADDRESS: address }));
}

export async function clientFor(target: TemporalTarget): Promise<Client> {
  return new Client({ connection: await connectTemporal(target), namespace: target.namespace });
}

/** `provision` found a run of provision-<stanza>@<repo> in progress that was started with another spec. */
export class ProvisionConflictError extends Error {
  override readonly name = 'ProvisionConflictError';
  constructor(readonly workflowId: string, readonly runId: string, readonly fields: string[]) {
    super(`${workflowId} is already running (run ${runId}) with a different spec: ${fields.join(', ')} differ. ` +
      `stanzactl will not follow it as if it were this spec: wait until it ends (or cancel it: temporal workflow cancel -w ${workflowId}), then run provision again`);
  }
}

/**
 * Starts provisionCluster, or attaches to the one already running for this stanza when that one
 * was started with the same spec (as stored in its history); a different spec is refused.
 */
export async function startProvision(client: Client, spec: Spec, taskQueue = TASK_QUEUE) {
  const handle = await client.workflow.start('provisionCluster', {
    taskQueue,
    workflowId: provisionWorkflowId(spec),
    args: [spec],
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    staticSummary: `provision stanza ${spec.stanza}: ${spec.nodes.length} nodes, repository ${spec.repository.host}`,
  });
  const fields = specDifferences(await startedWith(client, handle.workflowId, handle.firstExecutionRunId), spec);
  if (fields.length) throw new ProvisionConflictError(handle.workflowId, handle.firstExecutionRunId, fields);
  return handle;
}

/** The spec a run was started with: the first argument in its first history event. */
async function startedWith(client: Client, workflowId: string, runId: string): Promise<unknown> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({ namespace: client.options.namespace, execution: { workflowId, runId }, maximumPageSize: 1 });
  const payload = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`${workflowId} (run ${runId}): its history has no start event with a spec`);
  return client.options.loadedDataConverter.payloadConverter.fromPayload(payload);
}

function line(s: StepProgress): string {
  if (s.status === 'running') return `… ${s.name}`;
  const secs = s.endedAt ? ((s.endedAt - s.startedAt) / 1000).toFixed(1) : '?';
  const mark = s.status === 'failed' ? '✗' : s.changed ? '✓ changed' : '✓ ok';
  return `${mark.padEnd(10)} ${s.name} (${secs} s): ${s.detail ?? ''}`;
}

/**
 * Prints each step as it starts and as it ends, by polling the workflow's progress query, until
 * the workflow closes; returns its result or throws its failure.
 */
export async function follow<T>(handle: WorkflowHandle, print: (line: string) => void, intervalMs = 500): Promise<T> {
  const seen = new Map<string, string>();
  const show = (steps: StepProgress[]) => {
    for (const s of steps) {
      const key = `${s.name}@${s.startedAt}`;
      const before = seen.get(key);
      if (before === s.status) continue;
      // A step that began and ended between two polls still gets its start line.
      if (before === undefined && s.status !== 'running') print(line({ ...s, status: 'running' }));
      seen.set(key, s.status);
      print(line(s));
    }
  };
  const percents = new Map<string, number>();
  const showCopies = async () => {
    for (const a of await copyProgress(handle)) {
      const last = percents.get(a.activity) ?? -100;
      if (a.percent - last >= 10 || (a.percent === 100 && last !== 100)) {
        percents.set(a.activity, a.percent);
        print(`           ${a.activity}: ${a.percent.toFixed(0)}% copied`);
      }
    }
  };
  const result = handle.result() as Promise<T>;
  let done = false;
  result.then(() => (done = true), () => (done = true));
  while (!done) {
    try {
      show((await handle.query<Progress>(PROGRESS_QUERY)).steps);
      await showCopies();
    } catch {
      // The query fails while no worker runs or the server restarts: the workflow goes on regardless.
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, intervalMs))]);
  }
  try {
    show((await handle.query<Progress>(PROGRESS_QUERY)).steps);
  } catch {
    // A closed workflow still answers queries while a worker runs; the result says the rest.
  }
  return result;
}

/** Backups and restores heartbeat the percent pgBackRest copied; the pending activities carry it. */
async function copyProgress(handle: WorkflowHandle): Promise<{ activity: string; percent: number }[]> {
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
  return pending.flatMap((a) => {
    const payload = a.heartbeatDetails?.payloads?.[0];
    const details = payload ? (defaultPayloadConverter.fromPayload(payload) as { percent?: number }) : undefined;
    return typeof details?.percent === 'number' ? [{ activity: a.activityType?.name ?? 'activity', percent: details.percent }] : [];
  });
}

/** The innermost application failure: the message a DBA can act on. */
export function failureMessage(e: unknown): string {
  let cur: unknown = e instanceof WorkflowFailedError ? e.cause : e;
  while (cur instanceof ActivityFailure || (cur instanceof ApplicationFailure && cur.cause instanceof ApplicationFailure)) cur = cur.cause;
  return cur instanceof Error ? cur.message : String(cur);
}

export type { ProvisionResult };

/** The run of `workflowId` (its newest, or `runId`) while it is open; undefined once it closed or is gone past retention. */
export async function openRun(client: Client, workflowId: string, runId?: string): Promise<WorkflowExecutionDescription | undefined> {
  try {
    const d = await client.workflow.getHandle(workflowId, runId).describe();
    return d.status.name === 'RUNNING' ? d : undefined;
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return undefined;
    throw e;
  }
}

/** "workflow ID (run R), started T": how a refusal names the run in the way. */
export function describeRun(d: WorkflowExecutionDescription): string {
  return `workflow ${d.workflowId} (run ${d.runId}), started ${d.startTime.toISOString()}`;
}

/**
 * Starts a workflow that runs at most once per id at a time (the ids of src/workflow-ids.ts): its
 * handle, or, when a run with that id is open, that run as `describeRun` names it.
 */
export async function startAlone(client: Client, workflowType: string, options: WorkflowStartOptions): Promise<WorkflowHandleWithFirstExecutionRunId | { running: string }> {
  try {
    return await client.workflow.start(workflowType, { ...options, workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL });
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    const d = await openRun(client, options.workflowId);
    return { running: d ? describeRun(d) : `workflow ${options.workflowId}` };
  }
}
