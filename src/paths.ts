import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The checkout (or installed package) root: the directory holding package.json. */
export function projectRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

/** Where the embedded server's database, the lab and run files live. */
export function stateDir(): string {
  return resolve(process.env.STANZACTL_STATE ?? join(projectRoot(), '.state'));
}

/** The pinned Temporal CLI from the project's venv, unless TEMPORAL_CLI names another. */
export function temporalCli(): string {
  return process.env.TEMPORAL_CLI ?? join(projectRoot(), '.venv', 'bin', 'temporal');
}

export const TASK_QUEUE = 'stanzactl';

/**
 * A bash program of ours, from its `.sh` file in the `scripts/` folder beside the module that sends
 * it (`room` is that module's folder under src/; tsc copies no .sh into dist/, so it is read from
 * src/). Read once, when that module loads: the worker sends the text with every command, so a host
 * never runs another version than the worker that asks.
 */
export function program(room: string, name: string): string {
  return readFileSync(join(projectRoot(), 'src', room, 'scripts', `${name}.sh`), 'utf8');
}
