import { isIP } from 'node:net';

/**
 * The keys stanzactl adds to authorized_keys (a node's or a copy host's database account at the
 * repository user, the repository user at the database account) serve pgBackRest's remote and
 * nothing else: `restrict` (no pty, no forwarding), a forced command that runs only
 * `pgbackrest ... <command>:remote`, and `from=` the host's address where the spec gives one.
 */

/** Where the forced command lives on every host stanzactl trusts: root's, mode 755. */
export const REMOTE_GATE = '/usr/local/libexec/stanzactl/pgbackrest-remote';

/** What a key may do: `pins` NAME=VALUE (an option the remote may carry only with one of these values), `from` an address. */
export interface KeyAccess {
  readonly pins: readonly string[];
  readonly from?: string;
}

// Pins go inside the command="..." option: no quote, backslash or space can be among them.
const pinShape = /^[a-z0-9][a-z0-9-]*=[A-Za-z0-9._:/,@+%=-]+$/;

/** The host's address as a `from=` pattern: an IP address only (a name would need sshd's UseDNS, and is skipped). */
export function fromPin(address: string): string | undefined {
  return isIP(address) ? address : undefined;
}

/** `restrict,command="<gate> pins...",from="addr"`: the options of a line stanzactl adds. */
export function keyOptions(access: KeyAccess): string {
  for (const p of access.pins) {
    if (!pinShape.test(p)) throw new Error(`not usable as a forced-command pin: ${JSON.stringify(p)}`);
  }
  if (access.from !== undefined && !isIP(access.from)) throw new Error(`not an IP address for from=: ${JSON.stringify(access.from)}`);
  const command = [REMOTE_GATE, ...[...new Set(access.pins)].sort()].join(' ');
  return [`restrict`, `command="${command}"`, ...(access.from !== undefined ? [`from="${access.from}"`] : [])].join(',');
}

/** Splits an authorized_keys line into its options (before the key type) and the rest. */
export function splitOptions(line: string, isKeyType: (word: string) => boolean): { options: string[]; rest: string } {
  const t = line.trim();
  const first = t.split(/\s+/)[0] ?? '';
  if (isKeyType(first)) return { options: [], rest: t };
  // Options: comma-separated, values in double quotes may hold commas, spaces and \" escapes.
  const options: string[] = [];
  let cur = '';
  let quoted = false;
  let i = 0;
  for (; i < t.length; i++) {
    const c = t[i];
    if (quoted && c === '\\' && t[i + 1] === '"') {
      cur += '\\"';
      i++;
    } else if (c === '"') {
      quoted = !quoted;
      cur += c;
    } else if (!quoted && c === ',') {
      options.push(cur);
      cur = '';
    } else if (!quoted && /\s/.test(c)) {
      break;
    } else {
      cur += c;
    }
  }
  options.push(cur);
  return { options: options.filter((o) => o !== ''), rest: t.slice(i).trim() };
}

/** The pins of a forced command of ours among a line's options; undefined when the line has none of ours. */
export function gatePins(options: readonly string[]): string[] | undefined {
  const command = options.find((o) => o.startsWith('command="'));
  if (command === undefined) return undefined;
  const words = command.slice('command="'.length, -1).split(' ');
  return words[0] === REMOTE_GATE ? words.slice(1).filter((w) => pinShape.test(w)) : undefined;
}

/**
 * The forced command. SSH_ORIGINAL_COMMAND is what pgBackRest asked for: `<exe> --opt=val ...
 * <command>:remote`, options joined by spaces, a value with a space in double quotes (pgBackRest
 * 2.45, protocol/helper.c). It is split here without any shell: a word must be a plain option, a
 * quoted one without anything a shell expands, or the remote command; options that name programs,
 * configs or paths of the host's own (config, log/lock/spool path, cmd) are refused, a pinned
 * option must carry a pinned value (a `repo1-path` or `pg1-path` pin holds for that path of every
 * index), and the host's own pgbackrest runs with the words as argv.
 * `pgbackrest version` is allowed too: stanzactl's check that the trust works.
 * `template` is activities/scripts/pgbackrest-gate.sh; sshd runs the installed file as it is, so the
 * host's pgbackrest (a path checked here) is filled in, the one text stanzactl writes into a program.
 */
export function remoteGateScript(template: string, pgbackrest: string): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(pgbackrest)) throw new Error(`not an absolute program path: ${JSON.stringify(pgbackrest)}`);
  return template.replace(/@PGBACKREST@/g, pgbackrest);
}
