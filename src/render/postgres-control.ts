import { asUser, cmd, type Command } from '../shell/command';
import type { Spec } from '../spec/schema';

/**
 * Start/stop/reload a PostgreSQL cluster the way its layout expects. Debian's pg_ctlcluster and
 * systemd run as root and switch to the owner themselves; plain pg_ctl runs as the owner.
 */
export type ControlAction = 'start' | 'stop' | 'restart' | 'reload';

export function controlCommand(pg: Spec['postgres'], action: ControlAction): Command {
  const c = pg.control;
  switch (c.type) {
    case 'pg_ctlcluster':
      return action === 'stop'
        ? cmd('pg_ctlcluster', String(pg.version), c.cluster, 'stop', '--', '-m', 'fast')
        : cmd('pg_ctlcluster', String(pg.version), c.cluster, action);
    case 'systemd':
      return cmd('systemctl', action, c.unit);
    case 'pg_ctl': {
      const base = [`${pg.binDir}/pg_ctl`, '-D', pg.dataDir];
      if (action === 'reload') return asUser(pg.osUser, cmd(...base, 'reload'));
      const mode = action === 'start' ? [] : ['-m', 'fast'];
      return asUser(pg.osUser, cmd(...base, '-w', '-t', '300', '-l', serverLogFile(pg), ...mode, action));
    }
  }
}

// stanzactl's own directory for pg_ctl's server logs: root's, so no other account can swap it.
export const SERVER_LOG_ROOT = '/var/log/stanzactl';

/**
 * Where pg_ctl's server log (stderr until logging_collector takes over) goes: in a directory of the
 * OS user's under stanzactl's own. Never beside the data directory: its parent may be root's (a
 * mount point), and stanzactl writes only in paths the spec names or that it owns. Named by port,
 * which is unique among a host's clusters; outside the data directory, so backups never carry it.
 */
export function serverLogDir(pg: Spec['postgres']): string {
  return `${SERVER_LOG_ROOT}/${pg.osUser}`;
}

export function serverLogFile(pg: Spec['postgres']): string {
  return `${serverLogDir(pg)}/pg_ctl-${pg.port}.log`;
}

/** `pg_ctl status` works for every layout: exit 0 running, 3 stopped, 4 no usable data directory. */
export function statusCommand(pg: Spec['postgres']): Command {
  return asUser(pg.osUser, cmd(`${pg.binDir}/pg_ctl`, 'status', '-D', pg.dataDir));
}

export function psqlCommand(pg: Spec['postgres'], sql: string): Command {
  return asUser(pg.osUser, cmd(`${pg.binDir}/psql`, '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-F', '\t', '-p', String(pg.port), '-d', 'postgres', '-c', sql));
}

/** psql reading its script from stdin: for SQL that carries a secret. */
export function psqlScriptCommand(pg: Spec['postgres']): Command {
  return asUser(pg.osUser, cmd(`${pg.binDir}/psql`, '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-p', String(pg.port), '-d', 'postgres', '-f', '-'));
}

/** Where a cluster's server log goes while it starts (before any logging_collector): Debian's per-cluster file, else pg_ctl's. */
export function startupLogFile(pg: Spec['postgres']): string {
  return pg.control.type === 'pg_ctlcluster' ? `/var/log/postgresql/postgresql-${pg.version}-${pg.control.cluster}.log` : serverLogFile(pg);
}
