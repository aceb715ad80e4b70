import { program } from '../paths';
import { ApplicationFailure } from '@temporalio/common';
import { controlProblem, parseServiceFacts, RECOVERY_ENDED } from '../facts/postgres-service';
import { controlCommand, startupLogFile, type ControlAction } from '../render/postgres-control';
import type { HostAddress, RunResult } from '../remote/types';
import { asUser, cmd, script } from '../shell/command';
import type { Spec } from '../spec/schema';
import { refuse } from '../host/failures';
import type { HostOps } from '../host/host-ops';

/**
 * Every start, stop, restart and reload of a PostgreSQL server goes through here: first checked
 * against what really runs the data directory on the host (facts/postgres-service.ts), then done
 * the spec's way, and a failure says why in the server's or the unit's own words.
 */

// What runs the data directory: the postmaster and the systemd units that name it.
const SERVICE_FACTS = program('activities', 'service-facts');

/** Refuses, naming what runs the data directory, when the spec's control does not fit the host. */
export async function checkControl(ops: HostOps, host: HostAddress, pg: Spec['postgres']): Promise<void> {
  if (pg.control.type === 'pg_ctlcluster') return;
  const unit = pg.control.type === 'systemd' ? pg.control.unit : '';
  const problem = controlProblem(host.name, pg, parseServiceFacts(await ops.must(host, script(SERVICE_FACTS, pg.dataDir, pg.osUser, unit))));
  if (problem) throw refuse(`${host.name}: ${problem}. Nothing was started or stopped`, 'ControlMismatch');
}

/** The server's last words: its unit's journal under systemd, its startup log otherwise. */
export async function serverLogTail(ops: HostOps, host: HostAddress, pg: Spec['postgres']): Promise<string> {
  const [what, c] = pg.control.type === 'systemd'
    ? [`journalctl -u ${pg.control.unit}`, cmd('journalctl', '-u', pg.control.unit, '-n', '15', '--no-pager', '-o', 'cat')]
    : [startupLogFile(pg), asUser(pg.osUser, cmd('tail', '-n', '12', startupLogFile(pg)))];
  const r = await ops.run(host, c);
  return r.code === 0 ? `last lines of ${what}:\n${r.stdout.trimEnd()}` : `(cannot read ${what}: ${r.stderr.trim()})`;
}

/** The action's failure, with the server's last words: a recovery that ended before its target is final; anything else may pass on a retry. */
async function controlFailure(ops: HostOps, host: HostAddress, pg: Spec['postgres'], action: ControlAction, r: RunResult): Promise<Error> {
  const said = `${r.stdout}\n${r.stderr}`.trim();
  const log = await serverLogTail(ops, host, pg);
  const how = pg.control.type === 'systemd' ? `systemctl ${action} ${pg.control.unit}` : `${action} (${pg.control.type})`;
  const message = `${host.name}: ${how} failed: ${said.split('\n').slice(-3).join(' | ')}\n${log}`;
  if (RECOVERY_ENDED.test(said) || RECOVERY_ENDED.test(log)) return refuse(message, 'RecoveryFailed');
  return ApplicationFailure.create({ message, type: 'ServerControlFailed' });
}

/** Starts, stops, restarts or reloads the server the spec's way, once the way is checked to fit. */
export async function controlServer(ops: HostOps, host: HostAddress, pg: Spec['postgres'], action: ControlAction): Promise<void> {
  await checkControl(ops, host, pg);
  const r = await ops.run(host, controlCommand(pg, action), { timeoutMs: 600_000 });
  if (r.code !== 0) throw await controlFailure(ops, host, pg, action, r);
}

/** A node's unit starts at boot, as the packages' `systemctl enable` makes it: true when it had to be enabled. */
export async function ensureEnabled(ops: HostOps, host: HostAddress, pg: Spec['postgres']): Promise<boolean> {
  if (pg.control.type !== 'systemd') return false;
  const state = (await ops.run(host, cmd('systemctl', 'is-enabled', '--', pg.control.unit))).stdout.trim();
  if (state === 'enabled') return false;
  // Only the unit that serves this data directory: a refusal must change nothing, whoever scheduled the step.
  await checkControl(ops, host, pg);
  await ops.must(host, cmd('systemctl', 'enable', '--', pg.control.unit));
  return true;
}
