/**
 * Commands are values, not strings: every argument is quoted when the command is rendered, and
 * secrets render as *** in anything meant for humans (logs, errors, activity summaries).
 */
export class Secret {
  constructor(readonly value: string) {}
  toString(): string {
    return '***';
  }
  toJSON(): string {
    return '***';
  }
}

export type Arg = string | Secret;

export interface Command {
  readonly argv: readonly Arg[];
  /** OS user to run as; absent = the privileged user (root). */
  readonly user?: string;
  /** Sent on the SSH channel's stdin, so it never shows in a process list. */
  readonly stdin?: Arg;
}

/** How the SSH login gains the privileges a command needs. */
export type Become = 'root' | 'sudo';

export function cmd(...argv: Arg[]): Command {
  return { argv };
}

/**
 * A bash program of ours with its inputs as positional parameters ($1, $2, ...). The body is
 * code we wrote, never input: everything that came from a spec or a host travels in `args`.
 */
export function script(body: string, ...args: Arg[]): Command {
  return { argv: ['bash', '-c', body, 'stanzactl', ...args] };
}

export function asUser(user: string, c: Command): Command {
  return { ...c, user };
}

export function withStdin(c: Command, stdin: Arg): Command {
  return { ...c, stdin };
}

/** POSIX shell single-quoting: safe for any byte string without NUL. */
export function quote(s: string): string {
  if (s.includes('\0')) throw new Error('an argument cannot contain a NUL byte');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function prefix(c: Command, become: Become): string[] {
  if (c.user === undefined) return become === 'root' ? [] : ['sudo', '-n', '--'];
  // runuser/sudo -H set HOME, so ~/.pgpass and ~/.ssh resolve for the target user.
  return become === 'root' ? ['runuser', '-u', c.user, '--'] : ['sudo', '-n', '-H', '-u', c.user, '--'];
}

function renderWith(c: Command, become: Become, show: (a: Arg) => string): string {
  // cd /: root's home is 0700 and tools run as another user warn when they cannot stat the cwd.
  return ['cd / &&', ...[...prefix(c, become), ...c.argv].map(show)].join(' ');
}

/** The line sent to the remote shell. Contains secret values: never log it. */
export function toShellLine(c: Command, become: Become): string {
  return renderWith(c, become, (a) => (a instanceof Secret ? quote(a.value) : quote(a)));
}

/** The same line for humans, secrets masked. */
export function describe(c: Command, become: Become = 'root'): string {
  return renderWith(c, become, (a) => (a instanceof Secret ? '***' : quote(a)));
}

export function stdinValue(c: Command): string | undefined {
  if (c.stdin === undefined) return undefined;
  return c.stdin instanceof Secret ? c.stdin.value : c.stdin;
}
