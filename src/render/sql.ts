function rejectNul(s: string): void {
  if (s.includes('\0')) throw new Error('PostgreSQL strings cannot contain a NUL byte');
}

/** An identifier, always double-quoted so case and keywords survive. */
export function quoteIdent(s: string): string {
  rejectNul(s);
  if (s === '') throw new Error('an SQL identifier cannot be empty');
  return `"${s.replace(/"/g, '""')}"`;
}

/**
 * A string literal for standard_conforming_strings=on (the default since 9.1): backslashes are
 * plain characters, only `'` is doubled. psql does not expand `:variables` inside quotes.
 */
export function quoteLiteral(s: string): string {
  rejectNul(s);
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * The replication role's attributes and stored password (superuser only: pg_authid), one row
 * `login<TAB>replication<TAB>rolpassword`, or no row when the role does not exist.
 */
export function loginRoleStateSql(user: string): string {
  return `SELECT rolcanlogin, rolreplication, coalesce(rolpassword, '') FROM pg_catalog.pg_authid WHERE rolname = ${quoteLiteral(user)}`;
}

/**
 * One psql script (stdin, ON_ERROR_STOP) that makes a role exist with LOGIN, REPLICATION or
 * NOREPLICATION, and the given SCRAM verifier as its password, and prints `created` or `altered`.
 * PostgreSQL stores a string that already is a SCRAM verifier as it is, whatever
 * password_encryption says, so the plaintext never reaches the server. psql's \if keeps the
 * values out of any dollar-quoted body.
 */
export function ensureLoginRoleSql(user: string, verifier: string, replication: boolean): string {
  if (!verifier.startsWith('SCRAM-SHA-256$')) throw new Error('a role takes a SCRAM-SHA-256 verifier, never a plaintext password');
  const attributes = `LOGIN ${replication ? 'REPLICATION' : 'NOREPLICATION'}`;
  const role = quoteIdent(user);
  const pw = quoteLiteral(verifier);
  return [
    `SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(user)}) AS stanzactl_create \\gset`,
    '\\if :stanzactl_create',
    `CREATE ROLE ${role} WITH ${attributes} PASSWORD ${pw};`,
    '\\echo created',
    '\\else',
    `ALTER ROLE ${role} WITH ${attributes} PASSWORD ${pw};`,
    '\\echo altered',
    '\\endif',
    '',
  ].join('\n');
}

/** GUC names as ALTER SYSTEM takes them bare: `name` or `extension.name`. */
const gucName = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

function settingName(name: string): string {
  if (!gucName.test(name)) throw new Error(`not a PostgreSQL setting name: ${JSON.stringify(name)}`);
  return name;
}

/** One ALTER SYSTEM per setting; each must run outside a transaction block (psql script, autocommit). */
export function alterSystemSql(settings: Record<string, string>): string {
  return Object.entries(settings).map(([name, value]) => `ALTER SYSTEM SET ${settingName(name)} = ${quoteLiteral(value)};\n`).join('');
}

/**
 * The lines ALTER SYSTEM SET would append to a new cluster's postgresql.auto.conf (PostgreSQL
 * doubles `'` and `\` there), for writing them before its first start: one start instead of a
 * start, ALTER SYSTEM and a restart.
 */
export function autoConfLines(settings: Record<string, string>): string {
  return Object.entries(settings).map(([name, value]) => {
    rejectNul(value);
    if (/[\r\n]/.test(value)) throw new Error(`setting ${name}: a value in postgresql.auto.conf cannot span lines`);
    return `${settingName(name)} = '${value.replace(/['\\]/g, (c) => c + c)}'\n`;
  }).join('');
}
