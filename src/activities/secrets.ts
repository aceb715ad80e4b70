import { open, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { Secret } from '../shell/command';
import type { SecretRef, Spec } from '../spec/schema';
import { refuse } from './failures';

/** Where `{file: …}` secrets may live unless the worker's operator names another directory. */
export const DEFAULT_SECRETS_DIR = '/etc/stanzactl/secrets';

/**
 * The directory the operator allows `{file: …}` secrets in. A spec comes from whoever can start a
 * workflow; without this bound, `{file: /root/.ssh/id_ed25519}` would make the worker read any file
 * it can and send it to a host as a password.
 */
export function secretsDir(): string {
  return process.env.STANZACTL_SECRETS_DIR || DEFAULT_SECRETS_DIR;
}

function inside(dir: string, file: string): boolean {
  return file.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

async function readAllowedFile(file: string, what: string): Promise<string> {
  const dir = secretsDir();
  let realDir: string;
  try {
    realDir = await realpath(dir);
  } catch (e) {
    throw refuse(`${what}: the secrets directory ${dir} cannot be resolved on the worker (${(e as NodeJS.ErrnoException).code ?? e}); set STANZACTL_SECRETS_DIR`, 'SecretMissing');
  }
  const outside = () => refuse(`${what}: ${file} is outside the worker's secrets directory ${dir} (symlinks and ".." resolved); put the file there or set STANZACTL_SECRETS_DIR`, 'SecretRefused');
  // Judge the spelling first (a file outside is refused even when it does not exist), then the
  // file actually opened: a symlink swapped in between would otherwise escape.
  if (!inside(realDir, file) && !inside(dir, file)) throw outside();
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    throw refuse(`${what}: cannot read ${file} on the worker (${(e as NodeJS.ErrnoException).code ?? e})`, 'SecretMissing');
  }
  try {
    if (!inside(realDir, await realpath(`/proc/self/fd/${handle.fd}`))) throw outside();
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Secrets are resolved here, on the worker, so their values never enter workflow history. */
export async function resolveSecret(ref: SecretRef, what: string): Promise<Secret> {
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (!value) throw refuse(`${what}: environment variable ${ref.env} is not set for the stanzactl worker`, 'SecretMissing');
    return new Secret(value);
  }
  const text = await readAllowedFile(ref.file, what);
  const value = text.replace(/\r?\n$/, '');
  if (!value) throw refuse(`${what}: ${ref.file} is empty`, 'SecretMissing');
  return new Secret(value);
}

/**
 * The spec with each secret reference in repository.options replaced by its value, for rendering
 * pgbackrest.conf inside an activity. Never return it, log it or pass it to a workflow.
 */
export async function withResolvedRepositoryOptions(spec: Spec): Promise<Spec> {
  const entries = await Promise.all(Object.entries(spec.repository.options ?? {}).map(async ([name, value]) =>
    [name, typeof value === 'object' ? (await resolveSecret(value, `repository.options.${name}`)).value : value] as const));
  return { ...spec, repository: { ...spec.repository, options: Object.fromEntries(entries) } };
}
