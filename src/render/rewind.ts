import { asUser, cmd, type Command } from '../shell/command';
import type { Spec } from '../spec/schema';
import { conninfoValue } from './recovery';
import { quoteIdent, quoteLiteral } from './sql';

/**
 * The role pg_rewind logs in as on the primary: LOGIN and execute rights on the four functions it
 * reads files with, nothing else (the PostgreSQL docs' non-superuser setup); the replication
 * role keeps REPLICATION only. Its own pg_hba line per rejoined node, database postgres.
 */
export const REWIND_ROLE = 'stanzactl_rewind';

const REWIND_FUNCTIONS = [
  'pg_catalog.pg_ls_dir(text, boolean, boolean)',
  'pg_catalog.pg_stat_file(text, boolean)',
  'pg_catalog.pg_read_binary_file(text)',
  'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)',
];

/** How many of the functions the role may not execute yet: 0 when its grants are in place. */
export function missingRewindGrantsSql(role: string): string {
  return `SELECT count(*) FROM unnest(ARRAY[${REWIND_FUNCTIONS.map(quoteLiteral).join(', ')}]) f WHERE NOT has_function_privilege(${quoteLiteral(role)}, f, 'EXECUTE')`;
}

export function rewindGrantsSql(role: string): string {
  return REWIND_FUNCTIONS.map((f) => `GRANT EXECUTE ON FUNCTION ${f} TO ${quoteIdent(role)};`).join('\n');
}

export interface RewindSource {
  readonly host: string;
  readonly port: number;
}

/**
 * pg_rewind of the node's data directory from the running primary, as the cluster's owner, with
 * progress (its "need to copy" line is what the plan reads) and the WAL it lacks fetched with the
 * node's restore_command (-c). A config outside the data directory (Debian) is named: pg_rewind
 * runs postgres to read restore_command and for crash recovery. The password comes from ~/.pgpass.
 */
export function pgRewindCommand(pg: Spec['postgres'], source: RewindSource, dryRun: boolean): Command {
  const conninfo = `host=${conninfoValue(source.host)} port=${source.port} user=${REWIND_ROLE} dbname=postgres`;
  return asUser(pg.osUser, cmd('env', 'LC_ALL=C', `${pg.binDir}/pg_rewind`, ...(dryRun ? ['--dry-run'] : []), '--progress', '--restore-target-wal',
    ...(pg.configDir ? [`--config-file=${pg.configDir}/postgresql.conf`] : []), '-D', pg.dataDir, `--source-server=${conninfo}`));
}
