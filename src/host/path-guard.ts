import { program } from '../paths';

/**
 * Root never follows a path that a less-privileged account controls. Every file primitive runs
 * its body through GUARDED, which walks the path from / before anything is touched:
 *
 * - while every directory on the way can be changed by root alone, the body runs as root: nobody
 *   else can swap a component between the check and the act, so there is no race;
 * - from the first directory an account owns (a home, /var/lib/postgresql, a repository path),
 *   the body runs AS that account (runuser, inside the root shell, so a sudo login works too):
 *   the kernel then refuses whatever the account could not do itself, links or not;
 * - a symbolic link is refused, non-retryable, where an account could have planted it (below such
 *   a directory) and at the path itself (the file or directory read or handed over). Links only
 *   root could have made above it (an admin's /home -> /var/home) are followed and their target
 *   walked the same way.
 */


// What scripts/refusal.sh exits with and prints before the reason.
const REFUSED_EXIT = 90;
const MARK = 'stanzactl refuses: ';

/** `refusal REASON` for our bash programs (scripts/refusal.sh): prepended to those that refuse. */
export const REFUSAL_FN = program('host', 'refusal');

/** The reason of a refusal by one of our programs, if that is how it ended. */
export function refusalOf(r: { code: number | null; stderr: string }): string | undefined {
  if (r.code !== REFUSED_EXIT) return undefined;
  const last = r.stderr.trimEnd().split('\n').pop() ?? '';
  return last.startsWith(MARK) ? last.slice(MARK.length) : undefined;
}

/**
 * Runs a body of ours on a guarded path (scripts/guarded.sh): $1 body, $2 the account the path must
 * belong to when an account controls it ('' for a read), $3 the path, then the body's own arguments.
 */
export const GUARDED = `${REFUSAL_FN}${program('host', 'guarded')}`;
