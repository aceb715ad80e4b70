import { runWorker } from '../src/worker';
import { FaultHook } from './faults';
import { labCommand } from './lab/cli';

const USAGE = `usage: node dist/dev/cli.js <command>

The project's dev tooling, for its tests and benches; the stanzactl command carries none of it.
  lab up|down|status|spec   the lab hosts in network namespaces ("lab --help" says more)
  worker                    "stanzactl worker" with the fault hook (dev/faults.ts) of the plan
                            file STANZACTL_FAULTS names: it SIGKILLs itself at planned steps`;

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'lab') return labCommand(rest);
  const plan = process.env.STANZACTL_FAULTS;
  if (name === 'worker' && rest.length === 0 && plan) {
    await runWorker({ hooks: FaultHook.fromFile(plan) });
    return 0;
  }
  const help = name === '--help' || name === '-h' || name === 'help';
  (help ? console.log : console.error)(USAGE);
  return help ? 0 : 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => void (process.exitCode = code),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
