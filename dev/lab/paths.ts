import * as path from 'path';
import { projectRoot, stateDir as defaultStateDir } from '../../src/paths';

/** How a developer runs the lab (dev/cli.ts); the product's CLI has no lab command. */
export const LAB_COMMAND = 'node dist/dev/cli.js lab';

/** A host's shell script, read from the source tree at run time: tsc copies no .sh into dist/. */
export function labScript(name: string): string {
  return path.join(projectRoot(), 'dev', 'lab', name);
}

export function resolveStateDir(stateDir?: string): string {
  return path.resolve(stateDir ?? defaultStateDir());
}

export interface LabPaths {
  dir: string;
  record: string;
  privateKey: string;
  knownHosts: string;
  spec: string;
  /** The S3 server's certificate, key, log and data (it runs with the machine's paths, not its host's). */
  s3: string;
  host(name: string): string;
}

export function labPaths(stateDir: string): LabPaths {
  const dir = path.join(stateDir, 'lab');
  return {
    dir,
    record: path.join(dir, 'lab.json'),
    privateKey: path.join(dir, 'id_ed25519'),
    knownHosts: path.join(dir, 'known_hosts'),
    spec: path.join(dir, 'spec.yaml'),
    s3: path.join(dir, 's3'),
    host: (name) => path.join(dir, 'hosts', name),
  };
}
