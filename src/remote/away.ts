import { setTimeout as sleep } from 'node:timers/promises';
import { HostAwayError, RemoteTimeoutError, SshConnectError } from './errors';
import type { HostAddress } from './types';

/**
 * How long a host may be unreachable while a long command (backup, restore) runs on it before the
 * step gives up. The command itself runs on, detached, and picks up where it was when the network
 * comes back, so waiting is cheap; a reboot or a switch failover takes minutes. pgBackRest's own
 * protocol-timeout (30 min) ends a copy whose peer stays silent much longer than this.
 */
export const DEFAULT_HOST_AWAY_SECONDS = 600;

/** The worker's budget, from STANZACTL_HOST_AWAY_SECONDS (whole seconds, at least 1). */
export function hostAwayBudgetMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.STANZACTL_HOST_AWAY_SECONDS;
  if (raw === undefined || raw === '') return DEFAULT_HOST_AWAY_SECONDS * 1000;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new Error(`STANZACTL_HOST_AWAY_SECONDS must be a whole number of seconds (at least 1), not ${JSON.stringify(raw)}`);
  return Number(raw) * 1000;
}

/** Trouble reaching a host that may pass by itself: a lost connection, a connect or command timeout. */
export function unreachable(e: unknown): e is Error {
  return (e instanceof SshConnectError && e.retryable) || e instanceof RemoteTimeoutError;
}

export interface AwayOptions {
  readonly budgetMs: number;
  /** Pause between tries. */
  readonly retryMs: number;
  /** For the error: what was going on while the host was away. */
  readonly what: string;
  readonly signal?: AbortSignal;
  /** Told of every failed try, e.g. to heartbeat "host unreachable since". */
  readonly onAway?: (awayMs: number, e: Error) => void;
}

/**
 * Runs `fn` until it succeeds, trying again while `host` is unreachable and for at most
 * `budgetMs` from the first failed try; past that, HostAwayError. Other errors pass at once.
 */
export async function whileAway<T>(host: HostAddress, fn: () => Promise<T>, o: AwayOptions): Promise<T> {
  const since = Date.now();
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!unreachable(e)) throw e;
      const awayMs = Date.now() - since;
      if (awayMs >= o.budgetMs) throw new HostAwayError(host, awayMs, o.budgetMs, o.what, e);
      o.onAway?.(awayMs, e);
    }
    o.signal?.throwIfAborted();
    try {
      await sleep(o.retryMs, undefined, { signal: o.signal });
    } catch (e) {
      o.signal?.throwIfAborted();
      throw e;
    }
  }
}
