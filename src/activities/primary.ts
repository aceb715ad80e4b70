import { randomBytes } from 'node:crypto';
import { program } from '../paths';
import { asUser, script, Secret, withStdin, type Command } from '../shell/command';
import type { HostAddress } from '../remote/types';
import { ensureLines, hostHbaLine } from '../render/pg-hba';
import { psqlScriptCommand } from '../render/postgres-control';
import { controlServer, ensureEnabled } from './postgres-service';
import { SCRAM_SALT_BYTES, scramMatches, scramVerifier } from '../render/scram';
import { alterSystemSql, autoConfLines, ensureLoginRoleSql, loginRoleStateSql } from '../render/sql';
import { parseSettings } from '../facts/postgres';
import { primaryNode, standbyNodes, nodeHost } from '../spec/roles';
import type { Spec } from '../spec/schema';
import { clusterState, query } from './cluster-state';
import { creationMarker, creationPending, debianConfigDir, runCreation } from '../host/cluster-creation';
import { nodeAddress } from './hosts';
import type { HostOps } from '../host/host-ops';
import { resolveReplicationPassword } from './secrets';
import { REFUSAL_FN } from '../host/path-guard';
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

// The creation bodies (scripts/initdb.sh, create-debian.sh), after the function that appends the
// settings stanzactl wants before the first start (scripts/auto-conf.sh).
const AUTO_CONF = program('activities', 'auto-conf');
const INITDB = `${AUTO_CONF}${program('activities', 'initdb')}`;
const CREATE_DEBIAN = `${AUTO_CONF}${program('activities', 'create-debian')}`;

/** initdb or pg_createcluster, the port and the settings: marked, so an interrupted creation is redone, never adopted. */
async function createCluster(ops: HostOps, host: HostAddress, spec: Spec): Promise<'created' | 'recreated'> {
  const pg = spec.postgres;
  const settings = autoConfLines(Object.fromEntries(Object.entries(desiredSettings(spec)).map(([n, s]) => [n, s.value])));
  const account = await ops.user(host, pg.osUser);
  // Through the path guard, refusing a link an account planted in place of the data directory or
  // the config directory (or above them); the creation itself runs as the owner, so a link swapped
  // in after this check leads nowhere the owner could not write anyway.
  await ops.ensureDir(host, pg.dataDir, { owner: pg.osUser, group: account?.group ?? pg.osUser, mode: '700' });
  const base = { kind: 'primary-cluster' as const, dataDir: pg.dataDir, owner: pg.osUser, strict: true };
  if (pg.control.type === 'pg_ctlcluster') {
    if (pg.configDir) await ops.refuseLinks(host, pg.configDir);
    return runCreation(ops, host, { ...base, configDir: debianConfigDir(pg.version, pg.control.cluster), body: CREATE_DEBIAN,
      args: [pg.osUser, String(pg.port), pg.dataDir, String(pg.version), pg.control.cluster, settings] }, 300_000);
  }
  // INITDB runs initdb through runuser: as root only, so a sudo login goes through sudo for the whole script.
  return runCreation(ops, host, { ...base, body: INITDB, args: [pg.binDir, pg.dataDir, pg.osUser, String(pg.port), settings] }, 300_000);
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
  const [interrupted, state] = await Promise.all([creationPending(ops, host, creationMarker('primary-cluster', pg.dataDir)), clusterState(ops, host, pg)]);
  if (!state.exists || interrupted) {
    const how = await createCluster(ops, host, spec);
    results.push({ changed: true, detail: how === 'recreated'
      ? `an earlier creation of ${pg.dataDir} was interrupted: removed what it left and created the cluster with data checksums again`
      : `created a cluster with data checksums in ${pg.dataDir}` });
  }
  if (await ensureEnabled(ops, host, pg)) results.push({ changed: true, detail: 'enabled its systemd unit (starts at boot)' });
  if (!state.running) {
    await controlServer(ops, host, pg, 'start');
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
    await controlServer(ops, host, pg, restart ? 'restart' : 'reload');
    results.push({ changed: true, detail: `set ${differ.join(', ')} and ${restart ? 'restarted' : 'reloaded'}` });
  }
  // A cluster found running and left as it was is the one read above.
  const now = results.length === 0 ? state : await clusterState(ops, host, pg);
  return { ...merge(results, `${node.name}: primary running with archiving to stanza ${spec.stanza}, nothing to change`), systemId: now.systemId ?? '' };
}

/**
 * A login role as stanzactl wants it: LOGIN, REPLICATION or not, and a SCRAM verifier of the
 * password. The stored verifier is checked on the worker against the password (with its own salt
 * and iterations), so a role already right is left alone; otherwise a verifier computed here is
 * sent, never the password.
 */
export async function ensureLoginRole(ops: HostOps, host: HostAddress, pg: Spec['postgres'], user: string, password: string, replication: boolean): Promise<StepResult> {
  const attributes = `LOGIN${replication ? ', REPLICATION' : ''}`;
  const row = await query(ops, host, pg, loginRoleStateSql(user));
  if (row !== '') {
    const [login, repl, stored] = row.split('\t');
    if (login === 't' && (repl === 't') === replication && (await scramMatches(stored, password))) {
      return { changed: false, detail: `role ${user} exists with ${attributes} and the spec's password` };
    }
  }
  const verifier = await scramVerifier(password, randomBytes(SCRAM_SALT_BYTES));
  const done = (await ops.must(host, withStdin(psqlScriptCommand(pg), new Secret(ensureLoginRoleSql(user, verifier, replication))))).trim();
  return { changed: true, detail: `role ${user} ${done === 'created' ? 'created' : `given ${attributes} and the spec's password`}` };
}

// The server reports where its pg_hba.conf is, and the database account owns the settings that say
// so (postgresql.auto.conf): it could point hba_file at any file. So the file is read and rewritten
// AS that account, never as root, and only once its resolved path (links followed) lies inside a
// directory the spec names and belongs to the account. Check and write are one program: the account
// that runs it could only swap in files it can write itself.
const SERVER_FILE = `${REFUSAL_FN}${program('activities', 'server-file')}`;

/** Reads or rewrites a file the server names in `setting`, as the database account and only inside the spec's directories. */
function serverFile(spec: Spec, setting: string, path: string, action: 'read' | 'write' | 'mtime'): Command {
  const pg = spec.postgres;
  const dirs = [pg.dataDir, ...(pg.configDir ? [pg.configDir] : [])].join('\n');
  return asUser(pg.osUser, script(SERVER_FILE, setting, path, action, dirs));
}

async function writtenSinceLoad(ops: HostOps, host: HostAddress, spec: Spec, hbaFile: string): Promise<boolean> {
  const [loaded, written] = await Promise.all([
    query(ops, host, spec.postgres, 'SELECT extract(epoch FROM pg_conf_load_time())'),
    ops.must(host, serverFile(spec, 'hba_file', hbaFile, 'mtime')),
  ]);
  return Number(written) > Number(loaded);
}

/**
 * `lines` in the primary's pg_hba.conf, and a reload when the file changed since the server last
 * loaded it: lines written by an attempt that died before its reload (a worker killed beside it)
 * are in place but not in force. Undefined when nothing was to do.
 */
export async function ensureHbaLines(ops: HostOps, spec: Spec, lines: string[]): Promise<StepResult | undefined> {
  const host = nodeAddress(primaryNode(spec));
  const hbaFile = await query(ops, host, spec.postgres, 'SHOW hba_file');
  const existing = await ops.must(host, serverFile(spec, 'hba_file', hbaFile, 'read'));
  const { content, added } = ensureLines(existing, lines);
  if (added.length) await ops.must(host, withStdin(serverFile(spec, 'hba_file', hbaFile, 'write'), content));
  if (added.length === 0 && !(await writtenSinceLoad(ops, host, spec, hbaFile))) return undefined;
  await query(ops, host, spec.postgres, 'SELECT pg_reload_conf()');
  return { changed: true, detail: added.length ? `pg_hba: added ${added.length} line(s) and reloaded` : 'pg_hba: its lines were written but not yet loaded: reloaded' };
}

/** The seed's replication role, one pg_hba line per standby, and a reload when pg_hba changed since the server last loaded it. */
export async function ensureReplicationAccess(ops: HostOps, spec: Spec): Promise<StepResult> {
  const host = nodeAddress(primaryNode(spec));
  // A secret the worker may not read is refused before any host is asked; then the role and
  // pg_hba, which are apart, are looked at at once.
  const password = (await resolveReplicationPassword(spec)).value;
  const { user } = spec.replication;
  const results = await Promise.all([
    ensureLoginRole(ops, host, spec.postgres, user, password, true),
    ensureHbaLines(ops, spec, standbyNodes(spec).map((n) => hostHbaLine('replication', user, nodeHost(n)))),
  ]);
  return merge(results.filter((r): r is StepResult => r !== undefined), `replication role ${user} and pg_hba lines for ${standbyNodes(spec).length} standbys in place`);
}
