import { cmd, script, Secret, withStdin } from '../remote/command';
import type { HostAddress } from '../remote/types';
import { ensureLines, replicationHbaLine } from '../render/pg-hba';
import { controlCommand, psqlScriptCommand } from '../render/postgres-control';
import { alterSystemSql, ensureReplicationRoleSql } from '../render/sql';
import { parseSettings } from '../facts/postgres';
import { primaryNode, standbyNodes, nodeHost } from '../spec/load';
import type { Spec } from '../spec/schema';
import { clusterState, query } from './cluster-state';
import { nodeAddress } from './hosts';
import type { HostOps } from './host-ops';
import { resolveSecret } from './secrets';
import { merge, type StepResult } from './types';

export interface PrimaryResult extends StepResult {
  readonly systemId: string;
}

/** Settings the seed puts in postgresql.conf; ALTER SYSTEM works in both layouts and survives restores. */
function desiredSettings(spec: Spec): Record<string, { value: string; restart: boolean }> {
  return {
    listen_addresses: { value: '*', restart: true },
    archive_mode: { value: 'on', restart: true },
    archive_command: { value: `pgbackrest --stanza=${spec.stanza} archive-push %p`, restart: false },
  };
}

const INITDB = `set -eu
bin=$1; data=$2; user=$3; group=$4; port=$5
install -d -o "$user" -g "$group" -m 700 "$data"
runuser -u "$user" -- "$bin/initdb" -D "$data" --data-checksums -E UTF8 --locale=C.UTF-8 --auth-local=peer --auth-host=scram-sha-256 >/dev/null
printf '\\n# set by stanzactl when it created this cluster\\nport = %s\\n' "$port" >> "$data/postgresql.conf"`;

async function createCluster(ops: HostOps, host: HostAddress, spec: Spec): Promise<void> {
  const pg = spec.postgres;
  if (pg.control.type === 'pg_ctlcluster') {
    await ops.must(host, cmd('pg_createcluster', '--user', pg.osUser, '--port', String(pg.port), '--datadir', pg.dataDir, '--locale', 'C.UTF-8',
      String(pg.version), pg.control.cluster, '--', '--data-checksums'));
    return;
  }
  const account = await ops.user(host, pg.osUser);
  // INITDB runs initdb through runuser: as root only, so a sudo login goes through sudo for the whole script.
  await ops.must(host, script(INITDB, pg.binDir, pg.dataDir, pg.osUser, account?.group ?? pg.osUser, String(pg.port)));
}

/**
 * The primary: create a cluster with data checksums when there is none, adopt a running one without
 * touching its data, then archiving and listen_addresses, restarting only for settings that need it.
 */
export async function ensurePrimary(ops: HostOps, spec: Spec): Promise<PrimaryResult> {
  const node = primaryNode(spec);
  const host = nodeAddress(node);
  const pg = spec.postgres;
  const results: StepResult[] = [];
  let state = await clusterState(ops, host, pg);
  if (!state.exists) {
    await createCluster(ops, host, spec);
    results.push({ changed: true, detail: `created a cluster with data checksums in ${pg.dataDir}` });
  }
  if (!state.running) {
    await ops.must(host, controlCommand(pg, 'start'));
    results.push({ changed: true, detail: 'started PostgreSQL' });
  }
  const desired = desiredSettings(spec);
  const names = Object.keys(desired);
  const current = parseSettings(await query(ops, host, pg, `SELECT name, setting, pending_restart FROM pg_settings WHERE name IN (${names.map((n) => `'${n}'`).join(', ')})`));
  const differ = names.filter((n) => current[n]?.setting !== desired[n].value);
  if (differ.length) {
    // Through stdin, one statement at a time: ALTER SYSTEM refuses to run in psql -c's implicit transaction.
    await ops.must(host, withStdin(psqlScriptCommand(pg), alterSystemSql(Object.fromEntries(differ.map((n) => [n, desired[n].value])))));
    const restart = differ.some((n) => desired[n].restart);
    await ops.must(host, controlCommand(pg, restart ? 'restart' : 'reload'));
    results.push({ changed: true, detail: `set ${differ.join(', ')} and ${restart ? 'restarted' : 'reloaded'}` });
  }
  state = await clusterState(ops, host, pg);
  return { ...merge(results, `${node.name}: primary running with archiving to stanza ${spec.stanza}, nothing to change`), systemId: state.systemId ?? '' };
}

/** The seed's replication role, one pg_hba line per standby, and a reload when pg_hba changed. */
export async function ensureReplicationAccess(ops: HostOps, spec: Spec): Promise<StepResult> {
  const host = nodeAddress(primaryNode(spec));
  const pg = spec.postgres;
  const password = await resolveSecret(spec.replication.password, 'replication.password');
  const sql = new Secret(ensureReplicationRoleSql(spec.replication.user, password.value));
  const role = (await ops.must(host, withStdin(psqlScriptCommand(pg), sql))).trim();
  const results: StepResult[] = [{ changed: role === 'created', detail: `role ${spec.replication.user} ${role}` }];

  const hbaFile = await query(ops, host, pg, 'SHOW hba_file');
  const existing = (await ops.readFile(host, hbaFile)) ?? '';
  const { content, added } = ensureLines(existing, standbyNodes(spec).map((n) => replicationHbaLine(spec.replication.user, nodeHost(n))));
  if (added.length) {
    await ops.ensureFile(host, hbaFile, content, await ops.owner(host, hbaFile));
    await query(ops, host, pg, 'SELECT pg_reload_conf()');
    results.push({ changed: true, detail: `pg_hba: added ${added.length} line(s) and reloaded` });
  }
  return merge(results, `replication role ${spec.replication.user} and pg_hba lines for ${standbyNodes(spec).length} standbys in place`);
}

