import * as fs from 'fs';
import { LAB_COMMAND } from './paths';
import { mustRun, runProgram } from './proc';
import { HOST_PLAN, S3_HOST_PLAN } from './types';

/** Every name the lab creates in the root namespace, derived from the prefix so two labs can coexist. */
export interface NetworkPlan {
  prefix: string;
  subnet: string;
  bridge: string;
  bridgeIp: string;
  hosts: { name: string; ip: string; netns: string; veth: string }[];
}

const PRIVATE_RANGES: [string, number][] = [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16]];

function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function parseCidr(cidr: string): { base: number; bits: number } {
  const [ip, bitsText] = cidr.split('/');
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`not a CIDR prefix: ${cidr}`);
  const size = 2 ** (32 - bits);
  return { base: Math.floor(ipToInt(ip) / size) * size, bits };
}

function overlaps(a: { base: number; bits: number }, b: { base: number; bits: number }): boolean {
  const aEnd = a.base + 2 ** (32 - a.bits);
  const bEnd = b.base + 2 ** (32 - b.bits);
  return a.base < bEnd && b.base < aEnd;
}

// The kernel limits interface names to 15 characters; "<prefix>-pg1-h" must fit.
const PREFIX_RE = /^[a-z][a-z0-9]{0,7}$/;

/** `s3`: the lab has an S3 host too. */
export function planNetwork(prefix: string, subnet: string, s3 = false): NetworkPlan {
  if (!PREFIX_RE.test(prefix)) throw new Error(`lab prefix "${prefix}" must be 1-8 lower-case letters or digits, starting with a letter`);
  const net = parseCidr(subnet);
  if (net.bits !== 24 || intToIp(net.base) !== subnet.split('/')[0]) throw new Error(`lab subnet "${subnet}" must be a /24 network address such as 10.231.7.0/24`);
  // The hosts must never be able to talk to anything real: keep them in private address space.
  if (!PRIVATE_RANGES.some(([ip, bits]) => overlaps(net, { base: ipToInt(ip), bits }) && net.bits >= bits)) {
    throw new Error(`lab subnet ${subnet} is not in private address space (10/8, 172.16/12, 192.168/16)`);
  }
  return {
    prefix,
    subnet,
    bridge: `${prefix}-br0`,
    bridgeIp: intToIp(net.base + 1),
    hosts: [...HOST_PLAN, ...(s3 ? [S3_HOST_PLAN] : [])].map((h) => ({ name: h.name, ip: intToIp(net.base + h.octet), netns: `${prefix}-${h.id}`, veth: `${prefix}-${h.id}-h` })),
  };
}

/** Refuses, before anything is created, a subnet already routed here or names already taken. */
export async function assertNetworkFree(plan: NetworkPlan): Promise<void> {
  const taken = [plan.bridge, ...plan.hosts.map((h) => h.veth)].filter((n) => fs.existsSync(`/sys/class/net/${n}`));
  taken.push(...plan.hosts.map((h) => h.netns).filter((n) => fs.existsSync(`/run/netns/${n}`)));
  if (taken.length > 0) throw new Error(`refusing to build the lab: these links/network namespaces already exist: ${taken.join(', ')} (another lab with prefix "${plan.prefix}"? run "${LAB_COMMAND} down" or pick another prefix)`);

  const net = parseCidr(plan.subnet);
  const routes = await mustRun('ip', ['-4', '-o', 'route', 'show', 'table', 'all']);
  const addrs = await mustRun('ip', ['-4', '-o', 'addr', 'show']);
  const clashes: string[] = [];
  for (const line of routes.split('\n')) {
    // Route lines may start with a type ("local", "broadcast", ...) before the destination.
    const dest = line.trim().split(/\s+/).find((tok) => tok === 'default' || /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(tok));
    if (dest && dest !== 'default' && overlaps(net, parseCidr(dest))) clashes.push(line.trim());
  }
  for (const m of addrs.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/\d+/g)) {
    if (overlaps(net, parseCidr(m[1]))) clashes.push(`address ${m[1]}`);
  }
  if (clashes.length > 0) throw new Error(`refusing to build the lab: subnet ${plan.subnet} is already in use here:\n  ${clashes.join('\n  ')}\n(pick another subnet)`);
}

/** Bridge in the root namespace, one netns per host joined by a veth pair; no default route anywhere. */
export async function createNetwork(plan: NetworkPlan): Promise<void> {
  for (const h of plan.hosts) await mustRun('ip', ['netns', 'add', h.netns]);
  await mustRun('ip', ['link', 'add', plan.bridge, 'type', 'bridge']);
  await mustRun('ip', ['addr', 'add', `${plan.bridgeIp}/24`, 'dev', plan.bridge]);
  await mustRun('ip', ['link', 'set', plan.bridge, 'up']);
  for (const h of plan.hosts) {
    await mustRun('ip', ['link', 'add', h.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns]);
    await mustRun('ip', ['link', 'set', h.veth, 'master', plan.bridge, 'up']);
    await mustRun('ip', ['-n', h.netns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0']);
    await mustRun('ip', ['-n', h.netns, 'link', 'set', 'eth0', 'up']);
    await mustRun('ip', ['-n', h.netns, 'link', 'set', 'lo', 'up']);
  }
}

/** Deletes whatever of the plan exists; missing pieces are not an error, so a half-built lab comes down too. */
export async function destroyNetwork(plan: { bridge: string; hosts: { netns: string; veth: string }[] }): Promise<string[]> {
  const left: string[] = [];
  const del = async (exists: boolean, args: string[], what: string) => {
    if (!exists) return;
    const r = await runProgram('ip', args);
    if (r.code !== 0) left.push(`${what}: ${r.stderr.trim()}`);
  };
  for (const h of plan.hosts) await del(fs.existsSync(`/sys/class/net/${h.veth}`), ['link', 'del', h.veth], h.veth);
  for (const h of plan.hosts) await del(fs.existsSync(`/run/netns/${h.netns}`), ['netns', 'del', h.netns], h.netns);
  await del(fs.existsSync(`/sys/class/net/${plan.bridge}`), ['link', 'del', plan.bridge], plan.bridge);
  return left;
}

/** Inode of a named netns, to prove a recorded pid still belongs to the lab before signalling it. */
function netnsInode(netns: string): bigint | undefined {
  try {
    return fs.statSync(`/run/netns/${netns}`, { bigint: true }).ino;
  } catch {
    return undefined;
  }
}

export function pidInNetns(pid: number, netns: string): boolean {
  const ino = netnsInode(netns);
  if (ino === undefined || !(pid > 0)) return false;
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/net`) === `net:[${ino}]`;
  } catch {
    return false;
  }
}

/**
 * Cuts or restores one host's link. On restore, every lab neighbour table is flushed: an ARP
 * lookup begun during the cut would otherwise fail right after it and refuse the next
 * connection with "No route to host"; flushing drops its queued packets silently instead.
 */
export async function setHostLink(plan: NetworkPlan, name: string, up: boolean): Promise<void> {
  const veth = plan.hosts.find((h) => h.name === name)?.veth;
  if (!veth) throw new Error(`no host ${name} in the lab`);
  await mustRun('ip', ['link', 'set', veth, up ? 'up' : 'down']);
  if (!up) return;
  await mustRun('ip', ['neigh', 'flush', 'dev', plan.bridge]);
  for (const h of plan.hosts) await mustRun('ip', ['-n', h.netns, 'neigh', 'flush', 'dev', 'eth0']);
}
