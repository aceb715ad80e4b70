import { createActivities } from '../../src/activities';
import type { Command } from '../../src/shell/command';

/**
 * The real activities over a remote that refuses every command and records it: a test asserts that
 * an activity refused before it ran anything (`commands` empty), or got as far as a host.
 */
export function noCommandActivities(): { acts: ReturnType<typeof createActivities>; commands: Command[] } {
  const commands: Command[] = [];
  const acts = createActivities({
    remoteFor: () => ({
      run: async (_host, c) => {
        commands.push(c);
        throw new Error('no command may run');
      },
      close: async () => undefined,
    }),
  });
  return { acts, commands };
}
