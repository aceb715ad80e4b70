import * as path from 'path';
import { stateDir as defaultStateDir } from '../paths';

export function resolveStateDir(stateDir?: string): string {
  return path.resolve(stateDir ?? defaultStateDir());
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
