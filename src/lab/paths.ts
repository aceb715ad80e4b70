import * as fs from 'fs';
import * as path from 'path';

/** tsc puts this file in dist/src/lab/, the source in src/lab/: both sit below the directory holding package.json. */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
}

export function resolveStateDir(stateDir?: string): string {
  return path.resolve(stateDir ?? process.env.STANZACTL_STATE ?? path.join(repoRoot(), '.state'));
}

export interface LabPaths {
  dir: string;
  record: string;
  privateKey: string;
  knownHosts: string;
  spec: string;
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
    host: (name) => path.join(dir, 'hosts', name),
  };
}
