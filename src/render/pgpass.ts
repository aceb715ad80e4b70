export interface PgpassFields {
  host: string;
  port: string | number;
  database: string;
  user: string;
  password: string;
}

function escapeField(s: string): string {
  if (/[\n\r\0]/.test(s)) throw new Error('a .pgpass field cannot contain a line break or NUL');
  return s.replace(/[\\:]/g, (c) => `\\${c}`);
}

/** `host:port:database:user:password`, `\` and `:` escaped as libpq expects; `*` in a field is a wildcard. */
export function pgpassLine(f: PgpassFields): string {
  return [f.host, String(f.port), f.database, f.user, f.password].map(escapeField).join(':');
}

/** Splits on unescaped `:` and unescapes, as libpq reads a .pgpass line. */
function splitLine(line: string): string[] {
  const fields: string[] = [''];
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) fields[fields.length - 1] += line[++i];
    else if (c === ':') fields.push('');
    else fields[fields.length - 1] += c;
  }
  return fields;
}

/**
 * Puts `line` in place of any line for the same host, port, database and user (the password may
 * have changed), else appends it. libpq uses the first matching line, so replacing in place keeps
 * the precedence the file already had; further lines for the same target are dropped.
 */
export function ensurePgpass(existing: string, line: string, match: { database: string; user: string }): { content: string; changed: boolean } {
  const [host, port] = splitLine(line);
  const same = (l: string): boolean => {
    if (l.trimStart().startsWith('#')) return false;
    const f = splitLine(l);
    return f.length >= 5 && f[0] === host && f[1] === port && f[2] === match.database && f[3] === match.user;
  };
  const lines = existing === '' ? [] : existing.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  let placed = false;
  for (const l of lines) {
    if (!same(l)) out.push(l);
    else if (!placed) {
      out.push(line);
      placed = true;
    }
  }
  if (!placed) out.push(line);
  const content = `${out.join('\n')}\n`;
  return { content, changed: content !== existing };
}
