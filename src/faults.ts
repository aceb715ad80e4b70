/**
 * TEST-ONLY fault injection: SIGKILLs the worker process at planned points of planned activities,
 * so the fault matrix (tests/e2e/fault-matrix.ts) can prove every step survives a crash there.
 *
 * Off unless `STANZACTL_FAULTS` names a plan file (JSON, `FaultPlan`); production never sets it and
 * then nothing here runs. The points:
 * - `a`: inside the activity, right after the first remote command whose description (and output)
 *   match the entry's patterns: the activity's first change on a host, or a detached run started.
 * - `b`: after the activity's function resolved, before the worker reports the completion, so the
 *   workflow never records it and the retry re-runs a step that is already done.
 * Every kill is appended to the plan's log with a timestamp before the signal. An entry fires once:
 * its claim file (created exclusively, so two workers cannot both fire it) makes every worker,
 * restarted or not, skip it afterwards, so one workflow run can take several kills in turn.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { describe, type Command } from './shell/command';
import type { HostAddress, Remote, RunOptions, RunResult } from './remote/types';

export type FaultPoint = 'a' | 'b';

export interface FaultEntry {
  readonly id: string;
  readonly workflowType: string;
  readonly activityType: string;
  readonly point: FaultPoint;
  /** Point a: regex on the command as `describe()` renders it (secrets masked); absent = any. */
  readonly command?: string;
  /** Point a: regex on the command's stdout; absent = any. */
  readonly output?: string;
}

export interface FaultPlan {
  readonly entries: readonly FaultEntry[];
  /** JSON lines of `FaultRecord`, appended by every worker process of the run. */
  readonly log: string;
}

export interface ActivityRef {
  readonly workflowId: string;
  readonly runId: string;
  readonly activityType: string;
  readonly activityId: string;
  readonly attempt: number;
}

export type FaultRecord =
  | ({ readonly kind: 'start'; readonly at: number } & ActivityRef)
  | ({ readonly kind: 'kill'; readonly at: number; readonly id: string; readonly point: FaultPoint; readonly command?: string; readonly inFlight: ActivityRef[] } & ActivityRef);

export function readFaultLog(path: string): FaultRecord[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as FaultRecord);
}

function currentActivity(): (ActivityRef & { workflowType: string }) | undefined {
  let info;
  try {
    info = Context.current().info;
  } catch {
    return undefined; // not inside an activity
  }
  // Fault plans name workflow steps; a standalone activity is none of them.
  if (info.workflowType === undefined || info.workflowExecution === undefined) return undefined;
  return {
    workflowType: info.workflowType,
    workflowId: info.workflowExecution.workflowId,
    runId: info.workflowExecution.runId,
    activityType: info.activityType,
    activityId: info.activityId,
    attempt: info.attempt,
  };
}

export class FaultHook {
  private readonly inFlight = new Map<string, ActivityRef>();

  constructor(private readonly plan: FaultPlan) {}

  static fromEnv(env: NodeJS.ProcessEnv = process.env): FaultHook | undefined {
    const file = env.STANZACTL_FAULTS;
    return file ? new FaultHook(JSON.parse(readFileSync(file, 'utf8')) as FaultPlan) : undefined;
  }

  private append(r: FaultRecord): void {
    appendFileSync(this.plan.log, `${JSON.stringify(r)}\n`);
  }

  private due(point: FaultPoint, a: { workflowType: string; activityType: string }): FaultEntry[] {
    return this.plan.entries.filter((e) => e.point === point && e.workflowType === a.workflowType && e.activityType === a.activityType && !existsSync(this.claimFile(e)));
  }

  private claimFile(e: FaultEntry): string {
    return `${this.plan.log}.${e.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  }

  /** Kills this process unless another worker fired the entry first. */
  private fire(entry: FaultEntry, a: ActivityRef, command?: string): void {
    try {
      writeFileSync(this.claimFile(entry), '', { flag: 'wx' });
    } catch {
      return;
    }
    const { workflowId, runId, activityType, activityId, attempt } = a;
    this.append({ kind: 'kill', at: Date.now(), id: entry.id, point: entry.point, command, workflowId, runId, activityType, activityId, attempt, inFlight: [...this.inFlight.values()] });
    process.kill(process.pid, 'SIGKILL');
  }

  /** Point b, and the start of every attempt (the matrix measures resume times from these). */
  readonly interceptor: ActivityInterceptorsFactory = () => ({
    inbound: {
      execute: async (input, next) => {
        const a = currentActivity();
        if (!a) return next(input);
        const { workflowType: _, ...ref } = a;
        const key = `${ref.runId}/${ref.activityId}`;
        this.append({ kind: 'start', at: Date.now(), ...ref });
        this.inFlight.set(key, ref);
        try {
          const result = await next(input);
          const entry = this.due('b', a)[0];
          if (entry) this.fire(entry, ref);
          return result;
        } finally {
          this.inFlight.delete(key);
        }
      },
    },
  });

  /** Point a: the Remote given to the activities, killing after the planned command returned. */
  remote(inner: Remote): Remote {
    return {
      run: async (host: HostAddress, command: Command, options?: RunOptions): Promise<RunResult> => {
        const result = await inner.run(host, command, options);
        const a = currentActivity();
        if (a) {
          const text = describe(command);
          const entry = this.due('a', a).find((e) => (!e.command || new RegExp(e.command).test(text)) && (!e.output || new RegExp(e.output, 'm').test(result.stdout)));
          if (entry) {
            const { workflowType: _, ...ref } = a;
            this.fire(entry, ref, `${host.name}: ${text.slice(0, 200)}`);
          }
        }
        return result;
      },
      close: () => inner.close(),
    };
  }
}
