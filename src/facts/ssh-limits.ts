/**
 * sshd's limits as `sshd -T` prints them (the configuration in effect: defaults, includes and the
 * main file, lower-case keys), and the repository-host budget they allow.
 */
export interface SshdLimits {
  /** MaxStartups' first number: unauthenticated connections past it are dropped at random. */
  readonly startupsBegin: number;
}

export function parseSshdLimits(text: string): SshdLimits {
  const startups = /^maxstartups (\S+)$/m.exec(text)?.[1];
  const begin = Number(startups?.split(':')[0]);
  if (!Number.isInteger(begin) || begin < 1) throw new Error(`sshd -T printed no usable maxstartups (${startups ?? 'absent'})`);
  return { startupsBegin: begin };
}

/**
 * How many pgBackRest runs may go at once on the repository host when the spec does not say: a
 * backup or restore opens process-max + 1 SSH connections as it starts, between the repository
 * host and a node, so K runs starting together stay within MaxStartups' first number and sshd never
 * drops one at random (10 / (4 + 1) = 2 with OpenSSH's defaults and four cores).
 */
export function defaultBudget(limits: SshdLimits, processMax: number): { capacity: number; why: string } {
  const capacity = Math.max(1, Math.floor(limits.startupsBegin / (processMax + 1)));
  return { capacity, why: `MaxStartups ${limits.startupsBegin} / (process-max ${processMax} + 1)` };
}
