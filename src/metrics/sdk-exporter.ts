import { Runtime } from '@temporalio/worker';
import { ownListeners, tcpListeners, type TcpListener } from './sockets';

/**
 * The Temporal SDK exports its runtime metrics (temporal_*) from its native core through a
 * Prometheus exporter of its own. It is told to bind 127.0.0.1:0, so it takes a free port in one
 * bind and keeps it for the life of the process: no port is picked, released and bound again, a
 * window in which another local account could take it. Its port is read back from this process's
 * own sockets, and every read checks afterwards that the same socket still listens there: a socket
 * never comes back once closed, and while it is bound nobody else can listen on that address and
 * port (the core does not set SO_REUSEPORT), so the text read came from the SDK.
 */

/** More than any worker's SDK metrics (a few hundred series); past it the text is dropped. */
export const MAX_SDK_EXPOSITION_BYTES = 4 * 1024 * 1024;

export interface SdkExporter {
  readonly listener: TcpListener;
  /** The SDK's exposition text, or undefined when it cannot be read, is too large or may not be the SDK's. */
  read(): Promise<string | undefined>;
}

/** Text from `listener`, at most `max` bytes, only if `listener` (the same socket) still listens afterwards. */
export async function readOwnListener(listener: TcpListener, max: number): Promise<string | undefined> {
  try {
    const r = await fetch(`http://${listener.address}:${listener.port}/metrics`, { signal: AbortSignal.timeout(5_000), redirect: 'error' });
    if (!r.ok || !r.body) return undefined;
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of r.body) {
      size += chunk.byteLength;
      if (size > max) return undefined; // leaving the loop cancels the body
      chunks.push(chunk);
    }
    const still = (await tcpListeners()).some((l) => l.inode === listener.inode && l.port === listener.port && l.address === listener.address);
    return still ? Buffer.concat(chunks).toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Installs the SDK's Runtime with its exporter. Must run before the worker's first Temporal
 * connection: the Runtime takes its telemetry settings once, when it is installed.
 */
export async function installSdkExporter(): Promise<SdkExporter> {
  const before = new Set((await ownListeners()).map((l) => l.inode));
  Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: '127.0.0.1:0' } } } });
  // The core binds while the Runtime is created: its listener is the loopback one this process did not hold before.
  const added = (await ownListeners()).filter((l) => !before.has(l.inode) && l.address === '127.0.0.1');
  if (added.length !== 1) {
    throw new Error(`cannot tell which port the Temporal SDK's metrics exporter bound: ${added.length} new loopback listeners in this process (${added.map((l) => l.port).join(', ') || 'none'})`);
  }
  const [listener] = added;
  return { listener, read: () => readOwnListener(listener, MAX_SDK_EXPOSITION_BYTES) };
}
