/**
 * A libpq value: bare when it can be, else single-quoted with `\` and `'` backslash-escaped.
 * libpq reads backslash escapes even in bare values, hence quoting as soon as one appears.
 */
export function conninfoValue(v: string): string {
  if (v.includes('\0')) throw new Error('a connection parameter cannot contain a NUL byte');
  if (v !== '' && !/[\s'\\]/.test(v)) return v;
  return `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * The standby's primary_conninfo. No password: the standby's OS user finds it in ~/.pgpass,
 * so the secret never lands in postgresql.auto.conf or pgbackrest.conf.
 */
export function primaryConninfo(opts: { host: string; port: number; user: string; applicationName: string }): string {
  return [
    `host=${conninfoValue(opts.host)}`,
    `port=${conninfoValue(String(opts.port))}`,
    `user=${conninfoValue(opts.user)}`,
    `application_name=${conninfoValue(opts.applicationName)}`,
  ].join(' ');
}
