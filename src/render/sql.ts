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
 * One psql script (stdin, ON_ERROR_STOP) that makes the replication role exist with LOGIN,
 * REPLICATION and the given password, and prints `created` or `exists`. The password is always
 * set again: a SCRAM secret cannot be compared with a password in SQL. psql's \if keeps the
 * values out of any dollar-quoted body, so no password can end one.
 */
export function ensureReplicationRoleSql(user: string, password: string): string {
  const role = quoteIdent(user);
  const pw = quoteLiteral(password);
  return [
    // PostgreSQL 10-13 default to md5 hashes, which a scram-sha-256 pg_hba line refuses.
    "SET password_encryption = 'scram-sha-256';",
    `SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(user)}) AS stanzactl_create \\gset`,
    '\\if :stanzactl_create',
    `CREATE ROLE ${role} WITH LOGIN REPLICATION PASSWORD ${pw};`,
    '\\echo created',
    '\\else',
    `ALTER ROLE ${role} WITH LOGIN REPLICATION PASSWORD ${pw};`,
    '\\echo exists',
    '\\endif',
    '',
  ].join('\n');
}

/** GUC names as ALTER SYSTEM takes them bare: `name` or `extension.name`. */
const gucName = /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/;

/** One ALTER SYSTEM per setting; each must run outside a transaction block (psql script, autocommit). */
export function alterSystemSql(settings: Record<string, string>): string {
  return Object.entries(settings)
    .map(([name, value]) => {
      if (!gucName.test(name)) throw new Error(`not a PostgreSQL setting name: ${JSON.stringify(name)}`);
      return `ALTER SYSTEM SET ${name} = ${quoteLiteral(value)};\n`;
    })
    .join('');
}
