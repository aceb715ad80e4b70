import { cmd, script, Secret, withStdin, type Arg, type Command } from '../shell/command';
import { check } from '../remote/ssh-pool';
import { refuse } from './failures';
import { GUARDED, refusalOf } from './path-guard';
import { program } from '../paths';
import { BatchRemote } from './batch';
import type { HostAddress, Remote, RunOptions, RunResult } from '../remote/types';

export interface FileOwner {
  readonly owner: string;
  readonly group: string;
  /** Octal, as `stat -c %a` prints it: "600", "750". */
  readonly mode: string;
}

/** A file as readOwnedFile found it. */
export interface FoundFile {
  readonly content: string;
  readonly owner: FileOwner;
  /** Of the bytes on the host: what replaceFile checks the file against before it writes. */
  readonly sha256: string;
}

// Each body runs through GUARDED (./path-guard): as root only where root alone controls the path,
// else as the account that does. One round trip each.
const ENSURE_FILE = program('host', 'ensure-file');
const ENSURE_DIR = program('host', 'ensure-dir');
const ENSURE_DIRS = program('host', 'ensure-dirs');
const READ_FILE = program('host', 'read-file');
const USER_INFO = program('host', 'user-info');

/** `body` on `path` (its $1), guarded; `owner` is the account the path must belong to ('' for reads). */
function guarded(body: string, owner: string, path: string, ...args: Arg[]): Command {
  return script(GUARDED, body, owner, path, ...args);
}

function isAlready(found: FoundFile, content: Arg, o: FileOwner): boolean {
  const wanted = content instanceof Secret ? content.value : content;
  return found.content === wanted && found.owner.owner === o.owner && found.owner.group === o.group && found.owner.mode === o.mode;
}

/** File and command primitives over a Remote, each one SSH round trip, each reporting a change. */
export class HostOps {
  constructor(readonly remote: Remote) {}

  run(host: HostAddress, c: Command, options?: RunOptions): Promise<RunResult> {
    return this.remote.run(host, c, options);
  }

  /**
   * `f` with ops whose commands to `host`, issued before its first await, ride one round trip
   * (see BatchRemote); what it sends after that goes one by one.
   */
  async together<T>(host: HostAddress, f: (ops: HostOps) => Promise<T>): Promise<T> {
    const batch = new BatchRemote(this.remote, host);
    const result = f(new HostOps(batch));
    // Its failure is the caller's, once the batch is sent: not an unhandled rejection meanwhile.
    result.catch(() => undefined);
    await batch.flush();
    return result;
  }

  /** stdout of a command that must succeed; a path guard's refusal is never retried. */
  async must(host: HostAddress, c: Command, options?: RunOptions): Promise<string> {
    const r = await this.remote.run(host, c, options);
    const refused = refusalOf(r);
    if (refused !== undefined) throw refuse(`${host.name}: ${refused}`, 'UnsafePath');
    return check(host, c, r).stdout;
  }

  async readFile(host: HostAddress, path: string): Promise<string | undefined> {
    return (await this.readOwnedFile(host, path))?.content;
  }

  /** The content with owner, group and mode: what ensureFile needs to know that nothing differs. */
  async readOwnedFile(host: HostAddress, path: string): Promise<FoundFile | undefined> {
    const out = await this.must(host, guarded(READ_FILE, '', path));
    if (!out.startsWith('present\n')) return undefined;
    const end = out.indexOf('\n', 'present\n'.length);
    const [ownerGroup, mode, sha256] = out.slice('present\n'.length, end).split(' ');
    const [owner, group] = ownerGroup.split(':');
    return { content: out.slice(end + 1), owner: { owner, group, mode }, sha256 };
  }

  /**
   * `found`: the file as readOwnedFile just read it. When it already has this content, owner and
   * mode, nothing is sent: a no-op run costs no second round trip.
   */
  async ensureFile(host: HostAddress, path: string, content: Arg, o: FileOwner, found?: FoundFile): Promise<boolean> {
    if (found && isAlready(found, content, o)) return false;
    return (await this.write(host, path, content, o)) === 'changed';
  }

  /**
   * A file whose new content was made from `read` (readOwnedFile's, undefined when absent), such as
   * a pgbackrest.conf or authorized_keys that several clusters' runs edit on one host: written only
   * if it is still what was read, else a retryable failure, and the retry reads and edits it again.
   */
  async replaceFile(host: HostAddress, path: string, content: Arg, o: FileOwner, read: FoundFile | undefined): Promise<boolean> {
    if (read && isAlready(read, content, o)) return false;
    const out = await this.write(host, path, content, o, read?.sha256 ?? 'absent');
    if (out === 'stale') throw new Error(`${host.name}:${path} changed since it was read (another run writes it too): it is read again`);
    return out === 'changed';
  }

  /** ensure-file.sh's answer; with `was` (a SHA-256, or "absent") only over a file that still is that. */
  private async write(host: HostAddress, path: string, content: Arg, o: FileOwner, ...was: [] | [string]): Promise<string> {
    return (await this.must(host, withStdin(guarded(ENSURE_FILE, o.owner, path, `${o.owner}:${o.group}`, o.mode, ...was), content))).trim();
  }

  async ensureDir(host: HostAddress, path: string, o: FileOwner): Promise<boolean> {
    return (await this.ensureDirs(host, [{ path, owner: o }]))[0];
  }

  /** Each directory as ensureDir makes it, in this order, in one round trip: whether each changed. */
  async ensureDirs(host: HostAddress, dirs: readonly { path: string; owner: FileOwner }[]): Promise<boolean[]> {
    const c = script(ENSURE_DIRS, GUARDED, ENSURE_DIR, ...dirs.flatMap(({ path, owner: o }) => [path, `${o.owner}:${o.group}`, o.mode]));
    const lines = (await this.must(host, c)).trim().split('\n');
    return dirs.map((_, i) => lines[i] === 'changed');
  }

  /** Refuses (non-retryable) a path that root would reach through a link an account could have planted. */
  async refuseLinks(host: HostAddress, path: string): Promise<void> {
    await this.must(host, guarded('true', '', path));
  }

  /** Owner, group and mode of an existing file, to rewrite it without changing them. */
  async owner(host: HostAddress, path: string): Promise<FileOwner> {
    const [owner, group, mode] = (await this.must(host, cmd('stat', '-c', '%U %G %a', path))).trim().split(' ');
    return { owner, group, mode };
  }

  /** Home directory and primary group of an OS user, or undefined when the user does not exist. */
  async user(host: HostAddress, name: string): Promise<{ home: string; group: string } | undefined> {
    const c = script(USER_INFO, name);
    const r = await this.run(host, c);
    if (r.code === 3) return undefined;
    const [home, group] = check(host, c, r).stdout.trim().split('\n');
    return { home, group };
  }
}
