import { readdir, readFile, readlink } from 'node:fs/promises';

/** A listening IPv4 TCP socket as /proc/net/tcp lists it. */
export interface TcpListener {
  readonly address: string;
  readonly port: number;
  /** The socket's inode: unique while it lives, never reused for another socket in the meantime. */
  readonly inode: string;
}

const LISTEN = '0A';

/** The listening sockets of /proc/net/tcp (address little-endian hex, port hex, state 0A). */
export function parseTcpListeners(text: string): TcpListener[] {
  return text.split('\n').slice(1).flatMap((line) => {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== LISTEN) return [];
    const [hexAddress, hexPort] = f[1].split(':');
    const address = (hexAddress.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)).join('.');
    return [{ address, port: parseInt(hexPort, 16), inode: f[9] }];
  });
}

/** Every listening IPv4 socket of the machine's network namespace. */
export async function tcpListeners(): Promise<TcpListener[]> {
  return parseTcpListeners(await readFile('/proc/net/tcp', 'utf8'));
}

/** The inodes of the sockets this process holds open. */
export async function ownSocketInodes(): Promise<Set<string>> {
  const links = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return new Set(links.flatMap((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1] ?? []));
}

/** The listening IPv4 sockets this process holds. */
export async function ownListeners(): Promise<TcpListener[]> {
  const [all, own] = await Promise.all([tcpListeners(), ownSocketInodes()]);
  return all.filter((l) => own.has(l.inode));
}
