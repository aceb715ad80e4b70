/**
 * Fault injection, dev tooling only: SIGKILLs the worker process at planned points of planned
 * activities, so the fault matrix (tests/e2e/fault-matrix.ts) can prove every step survives a crash
 * there. The dev worker (`node dist/dev/cli.js worker`) installs it through the product worker's
 * hooks from the plan file (JSON, `FaultPlan`) that `STANZACTL_FAULTS` names. The points:
 * - `a`: inside the activity, right after the first remote command whose description (and output)
 *   match the entry's patterns: the activity's first change on a host, or a detached run started.
 * - `b`: after the activity's function resolved, before the worker reports the completion, so the
 *   workflow never records it and the retry re-runs a step that is already done.
 * Every kill is appended to the plan's log with a timestamp before the signal. An entry fires once:
 * its claim file (created exclusively, so two workers cannot both fire it) makes every worker,
 * restarted or not, skip it afterwards, so one workflow run can take several kills in turn.
 * A kill waits (the activity held at its point, heartbeating) until another worker polls and is
 * not about to die itself: steps that run side by side reach their points together, and a retry
 * must have a worker to resume on, as at a site that runs several.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { batchParts } from '../src/host/batch';
import { describe, type Command } from '../src/shell/command';
import type { HostAddress, Remote, RunOptions, RunResult } from '../src/remote/types';
import type { WorkerHooks } from '../src/worker';

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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class FaultHook implements WorkerHooks {
  private readonly inFlight = new Map<string, ActivityRef>();
  /** Entries this process claimed and holds at their points: one kill ends them all. */
  private readonly held: { entry: FaultEntry; ref: ActivityRef; command?: string }[] = [];

  constructor(private readonly plan: FaultPlan) {}

  static fromFile(file: string): FaultHook {
    return new FaultHook(JSON.parse(readFileSync(file, 'utf8')) as FaultPlan);
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

  private readyFile(pid: number): string {
    return `${this.plan.log}.ready.${pid}`;
  }

  /** From now on this worker counts as a peer that retries can go to. */
  ready(): void {
    writeFileSync(this.readyFile(process.pid), '');
  }

  /** Whether another worker process that said ready still lives. */
  private peerReady(): boolean {
    const prefix = basename(this.readyFile(0)).slice(0, -1);
    return readdirSync(dirname(this.plan.log)).some((f) => {
      const pid = f.startsWith(prefix) ? Number(f.slice(prefix.length)) : NaN;
      return Number.isInteger(pid) && pid !== process.pid && alive(pid);
    });
  }

  /**
   * Takes the one "dying" token (a dead holder's is stale) and checks for a ready peer; without
   * one, gives the token back. So two workers never both kill themselves for want of the other.
   */
  private mayDie(): boolean {
    const token = `${this.plan.log}.dying`;
    try {
      writeFileSync(token, String(process.pid), { flag: 'wx' });
    } catch {
      const holder = Number(readFileSync(token, 'utf8'));
      if (alive(holder)) return false;
      unlinkSync(token);
      return this.mayDie();
    }
    if (this.peerReady()) return true;
    unlinkSync(token);
    return false;
  }

  /** Kills this process, once another worker can take the retry, unless another worker fired the entry first. */
  private async fire(entry: FaultEntry, a: ActivityRef, command?: string): Promise<void> {
    try {
      writeFileSync(this.claimFile(entry), '', { flag: 'wx' });
    } catch {
      return;
    }
    const ctx = Context.current();
    const mine = { entry, ref: a, command };
    this.held.push(mine);
    // Bounded: a peer that never comes would fail the row on its resume time, not hang the run.
    for (let waited = 0; waited < 120_000 && !this.mayDie(); waited += 100) {
      if (waited % 1000 === 0) ctx.heartbeat();
      await sleep(100);
    }
    // Steps side by side on this worker may hold their points together: the one kill is each one's,
    // recorded for each (an entry claimed and not recorded would read as a kill that never fired).
    const at = Date.now();
    const inFlight = [...this.inFlight.values()];
    for (const h of [mine, ...this.held.filter((x) => x !== mine)]) {
      const { workflowId, runId, activityType, activityId, attempt } = h.ref;
      this.append({ kind: 'kill', at, id: h.entry.id, point: h.entry.point, command: h.command, workflowId, runId, activityType, activityId, attempt, inFlight });
    }
    process.kill(process.pid, 'SIGKILL');
  }

  /** Point b, and the start of every attempt (the matrix measures resume times from these). */
  private readonly interceptor: ActivityInterceptorsFactory = () => ({
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
          if (entry) await this.fire(entry, ref);
          return result;
        } finally {
          this.inFlight.delete(key);
        }
      },
    },
  });

  readonly activityInterceptors = [this.interceptor];

  /**
   * Point a: the Remote given to the activities, killing after the planned command returned. An
   * arrow function: the worker takes it off the hook object and calls it alone.
   */
  readonly wrapRemote = (inner: Remote): Remote => {
    return {
      run: async (host: HostAddress, command: Command, options?: RunOptions): Promise<RunResult> => {
        const result = await inner.run(host, command, options);
        const a = currentActivity();
        if (a) {
          // A batch's commands are matched one by one, as they were before they rode one round trip.
          const due = this.due('a', a);
          for (const { text, result: r } of batchParts(command, result) ?? [{ text: describe(command), result }]) {
            const entry = due.find((e) => (!e.command || new RegExp(e.command).test(text)) && (!e.output || new RegExp(e.output, 'm').test(r.stdout)));
            if (!entry) continue;
            const { workflowType: _, ...ref } = a;
            await this.fire(entry, ref, `${host.name}: ${text.slice(0, 200)}`);
            break;
          }
        }
        return result;
      },
      close: () => inner.close(),
    };
  };
}
