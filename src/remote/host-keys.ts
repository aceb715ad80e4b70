import { blobKeyType } from './known-hosts';

/**
 * A machine is known by every host key it has: a node pinned under one name with its ed25519 key
 * and reached under an alias pinned with its RSA key shares no pinned key with itself, but the
 * machine holds both. Pure: the keys come from the host (its `ssh_host_*_key.pub`) and known_hosts.
 */

/** `TYPE BASE64 [COMMENT]` lines, as `ssh_host_*_key.pub` holds them; other lines are skipped. */
export function parsePublicKeys(text: string): Buffer[] {
  return text.split('\n').flatMap((line) => {
    const [type, b64] = line.trim().split(/\s+/);
    if (!type || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return [];
    const blob = Buffer.from(b64, 'base64');
    return blobKeyType(blob) === type ? [blob] : [];
  });
}

export interface PinnedMachine {
  /** For the message: "node pg2-srv of stanza demo". */
  readonly what: string;
  readonly keys: readonly Buffer[];
}

/** The first machine one of whose pinned keys the host holds. */
export function machineHolding(hostKeys: readonly Buffer[], machines: readonly PinnedMachine[]): PinnedMachine | undefined {
  return machines.find((m) => m.keys.some((k) => hostKeys.some((h) => h.equals(k))));
}
