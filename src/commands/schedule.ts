import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { connectClient } from '../client';
import { applySchedules, listSchedules, pauseSchedules, triggerSchedule, unpauseSchedules, type ScheduleView } from '../schedules';
import { DEFAULT_CATCHUP_WINDOW, timingOf } from '../schedules/plan';
import { SpecError } from '../spec/errors';
import type { SpecFile } from '../spec/load-dir';
import { SCHEDULE_KINDS, type ScheduleKind, type Spec } from '../spec/schema';
import { scheduleId } from '../workflow-ids';
import { loadSpecs, SPECS_OPTIONS, UsageError, type CliCommand } from './command';

const HELP = `Usage: stanzactl schedule <subcommand> --spec FILE [options]

The cluster's Temporal Schedules (<repo> is the spec's repository.host): one per backup type in
backups.schedule, with id backup-<stanza>@<repo>-<type>, each starting workflow backupStanza; and
drill-<stanza>@<repo> for drills.schedule, starting workflow restoreDrill. All on task queue
"stanzactl" (a worker must run). With status.every in the spec, apply also keeps
status-<stanza>@<repo>: workflow stanzaStatus that often, which keeps the workers' metrics fresh
(list, pause, unpause and trigger handle the others only).

Subcommands:
  apply --spec FILE              create or update the schedules in place, delete those of types the
                                 spec no longer names; unchanged ones are not written; paused stays
                                 paused. Replaces this cluster's schedules of an older stanzactl
                                 (backup-<stanza>-<type>, drill-<stanza>, status-<stanza>), pause
                                 carried over; another repository host's under those ids stay
  apply --specs DIR              the same for every spec of a fleet (each *.yaml, *.yml, *.json file
                                 directly in DIR), one after the other, printing each one's rows; all
                                 are validated first (one bad spec, or two naming the same stanza on the
                                 same repository host, refuses the command, exit 2); exit 1 when the
                                 schedules of any could not be applied (the others still are)
  list --spec FILE [--json]      each schedule: cron, paused, next 3 runs, recent runs and their results
  pause --spec FILE [--type T] [--note TEXT]     pause all of the stanza's schedules, or type T
  unpause --spec FILE [--type T] [--note TEXT]
  trigger --spec FILE --type T   run T's backup (or the drill) now, unless that schedule's previous run still runs

Policies: overlap SKIP (a run due while the previous one runs is skipped); catchupWindow from the
spec, default ${DEFAULT_CATCHUP_WINDOW} (a run missed while the server was down starts late only within it);
pauseOnFailure off. Types: ${SCHEDULE_KINDS.join(', ')}.`;

const SUBCOMMANDS = ['apply', 'list', 'pause', 'unpause', 'trigger'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

interface Flags {
  readonly spec?: string;
  readonly specs?: string;
  readonly type?: ScheduleKind;
  readonly note?: string;
  readonly json: boolean;
}

const ALLOWED: Record<Subcommand, readonly string[]> = {
  apply: ['spec', 'specs'],
  list: ['spec', 'json'],
  pause: ['spec', 'type', 'note'],
  unpause: ['spec', 'type', 'note'],
  trigger: ['spec', 'type'],
};

function parseFlags(sub: Subcommand, args: string[]): Flags {
  const { values } = parseArgs({
    args,
    options: { ...SPECS_OPTIONS, type: { type: 'string' }, note: { type: 'string' }, json: { type: 'boolean' } },
    strict: true,
  });
  for (const name of Object.keys(values)) {
    if (!ALLOWED[sub].includes(name)) throw new UsageError(`${sub} takes no --${name}`);
  }
  if (values.type !== undefined && !SCHEDULE_KINDS.includes(values.type as ScheduleKind)) {
    throw new UsageError(`--type must be one of ${SCHEDULE_KINDS.join(', ')} (got "${values.type}")`);
  }
  if (sub === 'trigger' && !values.type) throw new UsageError('trigger needs --type T');
  return { spec: values.spec, specs: values.specs, type: values.type as ScheduleKind | undefined, note: values.note, json: values.json ?? false };
}

function when(cron: string, timezone: string): string {
  return `${cron} ${timezone || 'UTC'}`;
}

async function apply(client: Client, spec: Spec, print: (l: string) => void): Promise<void> {
  const rows = await applySchedules(client, spec);
  for (const r of rows) {
    // Only a created schedule is in the spec for sure: a deleted one has no timing there.
    const timing = () => {
      if (r.type === 'status') return `every ${spec.status?.every}`;
      const t = timingOf(spec, r.type);
      return when(t.cron ?? '', t.timezone ?? '');
    };
    const what = r.action === 'created' ? ` (${timing()})` : r.action === 'updated' ? ` (${r.changes?.join(', ')})` : r.replacedBy ? ` (replaced by ${r.replacedBy})` : '';
    print(`${r.id}: ${r.action}${what}`);
  }
  if (rows.length === 0) print(`stanza ${spec.stanza}: no schedules in the spec and none on the server`);
}

function printView(v: ScheduleView, print: (l: string) => void): void {
  print(`${v.id}: ${when(v.cron, v.timezone)}, ${v.paused ? `paused${v.note ? ` (${v.note})` : ''}` : 'active'}`);
  if (!v.inSpec) print(`  not in the spec any more: "schedule apply" deletes it`);
  else if (v.outOfDate.length > 0) print(`  differs from the spec (${v.outOfDate.join(', ')}): "schedule apply" updates it`);
  print(`  next: ${v.nextRuns.join(', ') || 'none'}`);
  if (v.recent.length === 0) print('  recent: none');
  for (const r of v.recent) print(`  ran ${r.scheduledAt} ${r.workflowId}: ${r.status}${r.detail ? ` (${r.detail})` : ''}`);
}

async function list(client: Client, spec: Spec, json: boolean, print: (l: string) => void): Promise<number> {
  const views = await listSchedules(client, spec);
  if (json) {
    print(JSON.stringify(views, null, 2));
    return 0;
  }
  for (const v of views) printView(v, print);
  const missing = SCHEDULE_KINDS.filter((t) => timingOf(spec, t).cron !== undefined && !views.some((v) => v.type === t));
  for (const t of missing) print(`${scheduleId(spec, t)}: in the spec but not on the server: run "stanzactl schedule apply"`);
  if (views.length === 0 && missing.length === 0) print(`stanza ${spec.stanza}: no schedules`);
  return 0;
}

async function trigger(client: Client, spec: Spec, type: ScheduleKind, print: (l: string) => void): Promise<number> {
  const r = await triggerSchedule(client, spec, type);
  if (r.outcome === 'started') print(`${r.id}: triggered, started workflow ${r.workflowId}`);
  else if (r.outcome === 'skipped') print(`${r.id}: skipped, its previous run still runs (${r.running.join(', ') || 'just finished'})`);
  else print(`${r.id}: trigger requested; the server has not acted yet (it skips it if the previous run still runs)`);
  return 0;
}

/** Each spec's schedules in turn; one that fails is reported and the rest still applied. */
async function applyEach(client: Client, specs: readonly SpecFile[], print: (l: string) => void): Promise<number> {
  let failed = 0;
  for (const { spec } of specs) {
    try {
      await apply(client, spec, print);
    } catch (e) {
      console.error(`stanzactl schedule apply: stanza ${spec.stanza}: ${(e as Error).message}`);
      failed++;
    }
  }
  return failed === 0 ? 0 : 1;
}

async function run(sub: Subcommand, f: Flags, print: (l: string) => void): Promise<number> {
  const { specs } = loadSpecs(f);
  const client = await connectClient();
  try {
    if (sub === 'apply') return await applyEach(client, specs, print);
    // Only apply takes --specs (ALLOWED): the others have one spec.
    const [{ spec }] = specs;
    switch (sub) {
      case 'list':
        return await list(client, spec, f.json, print);
      case 'pause':
      case 'unpause': {
        const rows = await (sub === 'pause' ? pauseSchedules : unpauseSchedules)(client, spec, { type: f.type, note: f.note });
        for (const r of rows) print(`${r.id}: ${r.action}`);
        return 0;
      }
      case 'trigger':
        return await trigger(client, spec, f.type!, print);
    }
  } finally {
    await client.connection.close();
  }
}

export const scheduleCommand: CliCommand = {
  usage: 'schedule apply|list|pause|unpause|trigger',
  summary: "the stanza's backup and drill schedules (--spec FILE; apply: or --specs DIR)",
  help: HELP,
  async run(args: string[]): Promise<number> {
    const [sub, ...rest] = args;
    if (sub === undefined || args.includes('--help') || args.includes('-h') || sub === 'help') {
      console.log(HELP);
      return sub === undefined ? 2 : 0;
    }
    try {
      if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`unknown subcommand "${sub}"`);
      return await run(sub as Subcommand, parseFlags(sub as Subcommand, rest), (l) => console.log(l));
    } catch (e) {
      if (e instanceof SpecError) {
        console.error(e.message);
        return 2;
      }
      if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        console.error(`stanzactl schedule: ${(e as Error).message}\n\n${HELP}`);
        return 2;
      }
      console.error(`stanzactl schedule ${sub}: ${(e as Error).message}`);
      return 1;
    }
  },
};
