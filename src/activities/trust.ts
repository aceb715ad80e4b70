import { program } from '../paths';
import { asUser, cmd, script } from '../shell/command';
import type { HostAddress } from '../remote/types';
import { ensureAuthorizedKey, ensureKnownHosts, knownHostsLine, removeAuthorizedKey } from '../facts/ssh-keys';
import { fromPin, REMOTE_GATE, remoteGateScript, type KeyAccess } from '../render/authorized-keys';
import type { Spec } from '../spec/schema';
import { nodeAddress, repoHost } from './hosts';
import type { FoundFile, HostOps } from '../host/host-ops';
import { REFUSAL_FN } from '../host/path-guard';
import { merge, type StepResult } from './types';

interface Account {
  readonly host: HostAddress;
  readonly user: string;
  /** Names the other side uses to reach this host, as they must appear in known_hosts; the first is its address in the spec. */
  readonly names: string[];
  /** Pins of the forced command on the keys this account authorizes: what its pgBackRest remote serves (render/authorized-keys.ts). */
  readonly pins: string[];
}

/** How `at` authorizes the key of `from`: pgBackRest's remote only, with at's pins, from the address the spec gives `from`. */
const access = (at: Account, from: Account): KeyAccess => ({ pins: at.pins, from: fromPin(from.names[0]) });

// ed25519: the seed's 4096-bit RSA works too, but costs seconds per key for no gain here. Run as
// the account, so the kernel keeps it to its own files; a link where the key lives is refused.
const ENSURE_KEYPAIR = `${REFUSAL_FN}${program('activities', 'ensure-keypair')}`;

async function ensureKeypair(ops: HostOps, a: Account): Promise<{ pub: string; changed: boolean }> {
  const out = await ops.must(a.host, asUser(a.user, script(ENSURE_KEYPAIR, `${a.user}@${a.host.name}`)));
  const lines = out.trim().split('\n');
  return { pub: lines[lines.length - 1], changed: lines[0] === 'created' };
}

async function homeOf(ops: HostOps, a: Account): Promise<{ home: string; group: string }> {
  const account = await ops.user(a.host, a.user);
  if (!account) throw new Error(`${a.host.name}: user ${a.user} does not exist`);
  return account;
}

type SshFile = 'authorized_keys' | 'known_hosts';

interface ReadSshFile {
  readonly a: Account;
  readonly path: string;
  readonly group: string;
  readonly found: FoundFile | undefined;
}

async function readSshFile(ops: HostOps, a: Account, { home: dir, group }: { home: string; group: string }, file: SshFile): Promise<ReadSshFile> {
  const path = `${dir}/.ssh/${file}`;
  return { a, path, group, found: await ops.readOwnedFile(a.host, path) };
}

async function writeEdited(ops: HostOps, f: ReadSshFile, edit: (existing: string) => { content: string; changed: boolean }): Promise<boolean> {
  const { content, changed } = edit(f.found?.content ?? '');
  if (f.found === undefined && !changed) return false;
  return ops.replaceFile(f.a.host, f.path, content, { owner: f.a.user, group: f.group, mode: '600' }, f.found);
}

async function ensureInSshFile(ops: HostOps, a: Account, file: SshFile, edit: (existing: string) => { content: string; changed: boolean }): Promise<boolean> {
  return writeEdited(ops, await readSshFile(ops, a, await homeOf(ops, a), file), edit);
}

// The keys' forced command, root's: the accounts it confines cannot change it. It runs the host's own pgbackrest.
// The forced command's program, filled in by render/authorized-keys.ts.
const GATE = program('activities', 'pgbackrest-gate');
const PGBACKREST_PATH = program('activities', 'pgbackrest-path');
const GATE_DIR = REMOTE_GATE.slice(0, REMOTE_GATE.lastIndexOf('/'));

const ROOT = { owner: 'root', group: 'root', mode: '755' };

interface AccountFacts {
  readonly key: { pub: string; changed: boolean };
  readonly hostKey: string;
  /** Whether the host's forced command had to be written. */
  readonly gate: boolean;
  readonly files: Record<SshFile, ReadSshFile>;
}

/**
 * An account's key pair, its host's key and forced command, and its two SSH files: two round trips
 * when nothing has to change (what a file's path needs first, then the files).
 */
async function accountFacts(ops: HostOps, a: Account): Promise<AccountFacts> {
  const [key, hostKey, pgbackrest, home, gateDir] = await ops.together(a.host, (b) => Promise.all([
    ensureKeypair(b, a),
    b.must(a.host, cmd('cat', '/etc/ssh/ssh_host_ed25519_key.pub')),
    b.must(a.host, script(PGBACKREST_PATH)),
    homeOf(b, a),
    b.ensureDir(a.host, GATE_DIR, ROOT),
  ]));
  const [authorized, known, gateFound] = await ops.together(a.host, (b) => Promise.all([
    readSshFile(b, a, home, 'authorized_keys'),
    readSshFile(b, a, home, 'known_hosts'),
    b.readOwnedFile(a.host, REMOTE_GATE),
  ]));
  const gate = (await ops.ensureFile(a.host, REMOTE_GATE, remoteGateScript(GATE, pgbackrest.trim()), ROOT, gateFound)) || gateDir;
  return { key, hostKey: hostKey.trim(), gate, files: { authorized_keys: authorized, known_hosts: known } };
}

// `pgbackrest version`: the one command besides a remote that the forced command lets through.
async function verify(ops: HostOps, from: Account, to: Account): Promise<void> {
  await ops.must(from.host, asUser(from.user, cmd('ssh', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=10', `${to.user}@${to.names[0]}`, 'pgbackrest', 'version')), { timeoutMs: 30_000 });
}

/**
 * Password-less SSH both ways between the repository user and the cluster's OS user on every node,
 * as the seed sets it up, but with known_hosts written from the hosts' real keys (read over the
 * operator's pinned connections) instead of trusting the first connection.
 */
export async function ensureSshTrust(ops: HostOps, spec: Spec): Promise<StepResult> {
  // A node serves the repository host's pg remotes only, on its data directory.
  const pins = [`pg1-path=${spec.postgres.dataDir}`, 'remote-type=pg'];
  return ensureTrustWith(ops, spec, spec.nodes.map((n) => ({ host: nodeAddress(n), user: spec.postgres.osUser, names: [...new Set([n.host ?? n.name, n.name])], pins })));
}

/** The same trust between the repository user and the cluster's OS user on a host that is no node (a copy is restored there). */
export async function ensureHostTrust(ops: HostOps, spec: Spec, host: HostAddress): Promise<StepResult> {
  return ensureTrustWith(ops, spec, [copyHostAccount(spec, host)]);
}

// The repository host runs no remote on a copy host (the copy's restore runs there and reaches the repository): were it to, a pg remote only.
const copyHostAccount = (spec: Spec, host: HostAddress): Account => ({ host, user: spec.postgres.osUser, names: [host.host], pins: ['remote-type=pg'] });

const repoAccount = (spec: Spec): Account => ({ host: repoHost(spec), user: spec.repository.user, names: [spec.repository.host], pins: [`repo1-path=${spec.repository.path}`, 'remote-type=repo'] });

/**
 * Takes back what ensureHostTrust gave a copy host: its key at the repository user and the
 * repository user's key at its database account. A key the host does not have is nothing to remove.
 */
export async function removeHostTrust(ops: HostOps, spec: Spec, host: HostAddress): Promise<StepResult> {
  const repo = repoAccount(spec);
  const copy = copyHostAccount(spec, host);
  const [repoPub, copyPub] = await Promise.all([publicKey(ops, repo), publicKey(ops, copy)]);
  const edits = await Promise.all([
    copyPub !== undefined && ensureInSshFile(ops, repo, 'authorized_keys', (e) => removeAuthorizedKey(e, copyPub)),
    repoPub !== undefined && ensureInSshFile(ops, copy, 'authorized_keys', (e) => removeAuthorizedKey(e, repoPub)),
  ]);
  return { changed: edits.some(Boolean), detail: `${host.name}: no SSH trust with ${repo.user}@${repo.host.name} left` };
}

const READ_PUBLIC_KEY = program('activities', 'read-public-key');

async function publicKey(ops: HostOps, a: Account): Promise<string | undefined> {
  const out = (await ops.must(a.host, asUser(a.user, script(READ_PUBLIC_KEY)))).trim();
  return out === '' ? undefined : out;
}

async function ensureTrustWith(ops: HostOps, spec: Spec, nodes: Account[]): Promise<StepResult> {
  const repo = repoAccount(spec);
  const all = [repo, ...nodes];
  const verifyAll = () => Promise.all(nodes.flatMap((n) => [verify(ops, repo, n), verify(ops, n, repo)]));

  // Verified beside the reads and edits: when none of them changes anything, that is the state they leave.
  const verifiedAsFound = verifyAll().then(() => undefined, (e: unknown) => ({ failed: e }));
  const facts = await Promise.all(all.map((a) => accountFacts(ops, a)));
  const keys = facts.map((f) => f.key);
  const hostKeys = facts.map((f) => f.hostKey);
  const edit = (a: Account, what: string, file: SshFile, editWith: (keys: { pub: string }[], hostKeys: string[]) => (existing: string) => { content: string; changed: boolean }): Promise<StepResult> =>
    writeEdited(ops, facts[all.indexOf(a)].files[file], editWith(keys, hostKeys)).then((changed) => ({ changed, detail: `${what} on ${a.host.name}` }));
  const edits = [
    edit(repo, 'authorized nodes (pgBackRest remote only)', 'authorized_keys', ([, ...nodeKeys]) =>
      authorizedKeys(nodeKeys.map((k, i) => ({ pub: k.pub, access: access(repo, nodes[i]) })))),
    edit(repo, 'known_hosts of nodes', 'known_hosts', (_, [, ...nodeHostKeys]) => knownHostLines(nodes.map((n, i) => knownHostsLine(n.names, nodeHostKeys[i])))),
    ...nodes.flatMap((n) => [
      edit(n, 'authorized repository user (pgBackRest remote only)', 'authorized_keys', ([repoKey]) => authorizedKeys([{ pub: repoKey.pub, access: access(n, repo) }])),
      edit(n, 'known_hosts of repository host', 'known_hosts', (_, [repoHostKey]) => knownHostLines([knownHostsLine(repo.names, repoHostKey)])),
    ]),
  ];
  const [results, asFound] = await Promise.all([Promise.all(edits), verifiedAsFound]);
  facts.forEach((f, i) => {
    if (f.key.changed) results.push({ changed: true, detail: `new key pair for ${all[i].user} on ${all[i].host.name}` });
    if (f.gate) results.push({ changed: true, detail: `forced command ${REMOTE_GATE} on ${all[i].host.name}` });
  });

  if (results.some((r) => r.changed)) await verifyAll();
  else if (asFound) throw asFound.failed;
  return merge(results, `SSH trust verified both ways between ${repo.user}@${repo.host.name} and ${spec.postgres.osUser} on ${nodes.map((n) => n.host.name).join(', ')}`);
}

const authorizedKeys = (keys: { pub: string; access: KeyAccess }[]) => (existing: string) =>
  applyAll(existing, keys, (content, k) => ensureAuthorizedKey(content, k.pub, k.access));

const knownHostLines = (lines: string[]) => (existing: string) => applyAll(existing, lines, ensureKnownHosts);

function applyAll<T>(existing: string, items: T[], f: (content: string, item: T) => { content: string; changed: boolean }): { content: string; changed: boolean } {
  return items.reduce<{ content: string; changed: boolean }>((acc, item) => {
    const r = f(acc.content, item);
    return { content: r.content, changed: acc.changed || r.changed };
  }, { content: existing, changed: false });
}
