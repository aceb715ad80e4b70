import { asUser, cmd, type Command } from '../shell/command';
import type { Spec } from '../spec/schema';
import { quoteLiteral } from './sql';

/**
 * How the spec's drill checks run on the copy (a promoted, disposable cluster on the scratch host).
 *
 * The session is the copy owner's (a superuser: the copy's pg_hba is production's or Debian's, and
 * no other account can log in without changing it). So each check is the body of a SQL function
 * that is SECURITY DEFINER and owned by CHECK_ROLE, a role without superuser rights that only holds
 * pg_read_all_data: the check runs as that role, and inside a security-definer function PostgreSQL
 * refuses to change `role` or `session_authorization` (SET, RESET, set_config alike), so a check
 * cannot take the superuser session back the way it could after a SET ROLE or SET SESSION
 * AUTHORIZATION. The function is STABLE (a data-modifying statement in it is refused) and returns
 * `(check) IS TRUE`, one boolean: a check of more rows, more columns or another type fails. It is
 * called in a read-only transaction with a statement timeout, and only the boolean (or the
 * SQLSTATE of an error) comes back: PostgreSQL's error text can quote data, so it is neither kept
 * nor written to the copy's server log.
 *
 * Not covered: a function in the copy that is itself SECURITY DEFINER (owned by a superuser) or
 * written in an untrusted language and executable by PUBLIC runs with its own rights when a check
 * calls it, as it would for any user of production.
 */

export const CHECK_ROLE = 'stanzactl_drill_check';
export const CHECK_SCHEMA = 'stanzactl_drill';
/** Per check: a check slower than this fails with SQLSTATE 57014. */
export const CHECK_TIMEOUT_MS = 600_000;

/** The setup script's last line when the role holds nothing but pg_read_all_data. */
export const CONFINED = 'confined';

const checkFunction = (i: number) => `${CHECK_SCHEMA}.check_${i + 1}`;

/**
 * One psql script (stdin, as the copy's owner, ON_ERROR_STOP): the role exists without any right
 * but pg_read_all_data (a role of that name that came with production's data is stripped of its
 * attributes and memberships), and one function per check. Run again, it gives the same result.
 */
export function drillChecksSetupSql(checks: readonly string[]): string {
  const role = CHECK_ROLE;
  return [
    'SET check_function_bodies = off;',
    `SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(role)}) AS stanzactl_create \\gset`,
    '\\if :stanzactl_create',
    `CREATE ROLE ${role} NOLOGIN;`,
    '\\endif',
    `ALTER ROLE ${role} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOLOGIN INHERIT;`,
    `SELECT format('REVOKE %I FROM ${role}', r.rolname) FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles r ON r.oid = m.roleid` +
      ` WHERE m.member = ${quoteLiteral(role)}::regrole AND r.rolname <> 'pg_read_all_data' \\gexec`,
    `GRANT pg_read_all_data TO ${role};`,
    `DROP SCHEMA IF EXISTS ${CHECK_SCHEMA} CASCADE;`,
    `CREATE SCHEMA ${CHECK_SCHEMA};`,
    `REVOKE ALL ON SCHEMA ${CHECK_SCHEMA} FROM PUBLIC;`,
    `GRANT USAGE ON SCHEMA ${CHECK_SCHEMA} TO ${role};`,
    ...checks.flatMap((sql, i) => [
      `CREATE FUNCTION ${checkFunction(i)}() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER AS ${quoteLiteral(`SELECT (${sql}) IS TRUE`)};`,
      `REVOKE ALL ON FUNCTION ${checkFunction(i)}() FROM PUBLIC;`,
      `ALTER FUNCTION ${checkFunction(i)}() OWNER TO ${role};`,
    ]),
    // Said last, after every change: what the checks will run as.
    `SELECT CASE WHEN NOT (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls OR rolcanlogin) AND NOT EXISTS (` +
      `SELECT 1 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid AND g.rolname <> 'pg_read_all_data')` +
      ` THEN ${quoteLiteral(CONFINED)} ELSE 'not confined' END FROM pg_catalog.pg_roles r WHERE rolname = ${quoteLiteral(role)};`,
    '',
  ].join('\n');
}

/**
 * Calls check `i` (0-based) in a read-only transaction with the timeout; errors are printed as
 * their SQLSTATE alone and left out of the server log.
 */
export function drillCheckCommand(pg: Spec['postgres'], i: number): Command {
  const options = [
    'default_transaction_read_only=on', `statement_timeout=${CHECK_TIMEOUT_MS}`, 'log_min_messages=panic', 'log_min_error_statement=panic',
  ].map((o) => `-c ${o}`).join(' ');
  return asUser(pg.osUser, cmd(`${pg.binDir}/psql`, '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=sqlstate',
    '-p', String(pg.port), '-d', `dbname=postgres options='${options}'`, '-c', `SELECT ${checkFunction(i)}()`));
}

const REASONS: Record<string, string> = {
  '42501': 'insufficient privilege: the check needs more than reading',
  '25006': 'the check tried to write in its read-only transaction',
  '0A000': 'not supported (a write, or a statement, in a read-only check)',
  '57014': `cancelled after ${CHECK_TIMEOUT_MS / 1000} s (statement_timeout)`,
  '21000': 'the query returned more than one row',
  '42601': 'syntax error, or not one column',
  '42804': 'the query does not return a boolean',
  '42P01': 'a table it names does not exist',
  '42703': 'a column it names does not exist',
  '42883': 'a function or operator it names does not exist',
  '3F000': 'a schema it names does not exist',
  '22012': 'division by zero',
};

const CLASSES: Record<string, string> = {
  '22': 'data exception', '23': 'integrity constraint violation', '25': 'invalid transaction state', '40': 'transaction rollback',
  '42': 'syntax error or access rule violation', '53': 'insufficient resources', '54': 'program limit exceeded', '57': 'operator intervention',
};

/**
 * What a check's run says, as kept in the drill record: whether it returned true, and when it did
 * not, only a fixed phrase, the SQLSTATE and its meaning. Nothing the server printed is quoted: an
 * error message can carry the data it choked on.
 */
export function drillCheckOutcome(run: { code: number; stdout: string; stderr: string }): { ok: boolean; detail: string } {
  if (run.code === 0) {
    const out = run.stdout.trim();
    if (out === 't') return { ok: true, detail: 'returned true' };
    if (out === 'f') return { ok: false, detail: 'returned false, or no row' };
    return { ok: false, detail: 'unexpected output from psql (not shown)' };
  }
  const state = /^(?:psql:[^\n]*?)?(?:ERROR|FATAL|PANIC):\s+([0-9A-Z]{5})\s*$/m.exec(run.stderr)?.[1];
  if (state === undefined) return { ok: false, detail: `psql exited ${run.code} without an SQLSTATE (its message is not kept)` };
  const reason = REASONS[state] ?? CLASSES[state.slice(0, 2)] ?? 'see PostgreSQL\'s SQLSTATE table';
  return { ok: false, detail: `failed: SQLSTATE ${state} (${reason})` };
}
