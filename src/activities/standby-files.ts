import { standbySettings, withRecoverySettings } from '../render/recovery';
import { nodeHost, primaryNode } from '../spec/roles';
import type { HostAddress } from '../remote/types';
import type { Spec } from '../spec/schema';
import type { HostOps } from '../host/host-ops';

/**
 * What makes a node start only in recovery, written as its OS user: `settings` last in its
 * postgresql.auto.conf, any recovery target and slot commented out (render/recovery.ts), and
 * standby.signal. The settings go first: a node that has the signal but still a recovery target
 * would promote itself at the end of that recovery. Whether each file had to be written.
 */
export async function ensureStandbyFiles(ops: HostOps, host: HostAddress, pg: Spec['postgres'], settings: readonly [string, string][], why: string): Promise<{ conf: boolean; signal: boolean }> {
  const account = await ops.user(host, pg.osUser);
  const owner = { owner: pg.osUser, group: account?.group ?? pg.osUser, mode: '600' };
  const autoPath = `${pg.dataDir}/postgresql.auto.conf`;
  const found = await ops.readOwnedFile(host, autoPath);
  const conf = (found !== undefined || settings.length > 0)
    && (await ops.replaceFile(host, autoPath, withRecoverySettings(found?.content ?? '', settings, why), { ...owner, mode: found?.owner.mode ?? '600' }, found));
  const signalPath = `${pg.dataDir}/standby.signal`;
  const signal = await ops.ensureFile(host, signalPath, '', owner, await ops.readOwnedFile(host, signalPath));
  return { conf, signal };
}

/** ensureStandbyFiles with the settings that make `node` (at `host`) a standby of the spec's primary; the settings too. */
export async function ensureFollowing(ops: HostOps, host: HostAddress, spec: Spec, node: string): Promise<{ conf: boolean; signal: boolean; settings: [string, string][] }> {
  const primary = primaryNode(spec);
  const settings = standbySettings({ primaryHost: nodeHost(primary), port: spec.postgres.port, user: spec.replication.user, node, stanza: spec.stanza });
  return { ...(await ensureStandbyFiles(ops, host, spec.postgres, settings, `Recovery settings written by stanzactl: a standby of ${primary.name}`)), settings };
}
