import { open, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import type { z } from 'zod';
import { Secret } from '../shell/command';
import { optionText, passwordText, type SecretRef, type Spec } from '../spec/schema';
import type { OffsiteKeys } from '../render/pgbackrest-conf';
import { refuse } from '../host/failures';

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

/** The names `{env: …}` secrets must start with unless the worker's operator names another prefix. */
export const DEFAULT_SECRET_ENV_PREFIX = 'STANZACTL_SECRET_';

/**
 * The prefix the operator marks shippable variables with. Without this bound, `{env: TEMPORAL_API_KEY}`
 * (or a TLS key, or any setting of the worker) would go to a host the spec names; an empty setting
 * means the default, so no setting allows every variable.
 */
export function secretEnvPrefix(): string {
  return process.env.STANZACTL_SECRET_ENV_PREFIX || DEFAULT_SECRET_ENV_PREFIX;
}

function readAllowedEnv(name: string, what: string): string {
  const prefix = secretEnvPrefix();
  // Judged by name before the variable is read: whether another variable is set is no business of a spec.
  if (!name.startsWith(prefix)) {
    throw refuse(`${what}: environment variable ${name} is not one the worker gives out as a secret: only names starting with ${prefix} are ` +
      `(STANZACTL_SECRET_ENV_PREFIX). Put the secret in ${prefix}..., name that in the spec, and restart the worker`, 'SecretRefused');
  }
  const value = process.env[name];
  if (!value) throw refuse(`${what}: environment variable ${name} is not set for the stanzactl worker`, 'SecretMissing');
  return value;
}

/**
 * Secrets are resolved here, on the worker, so their values never enter workflow history. The value
 * is held to `rule`, the rule of a literal in the same place (it goes into the same file or command);
 * a refusal names where the value came from, never the value.
 */
export async function resolveSecret(ref: SecretRef, what: string, rule: z.ZodType<string>): Promise<Secret> {
  const value = 'env' in ref ? readAllowedEnv(ref.env, what) : (await readAllowedFile(ref.file, what)).replace(/\r?\n$/, '');
  const from = 'env' in ref ? `environment variable ${ref.env}` : ref.file;
  if (!value) throw refuse(`${what}: ${from} is empty`, 'SecretMissing');
  const checked = rule.safeParse(value);
  if (!checked.success) throw refuse(`${what}: the value in ${from} is refused: ${checked.error.issues[0].message}. Change the secret (its value is not shown)`, 'BadSecret');
  return new Secret(value);
}

/** replication.password's value, for ~/.pgpass and the SCRAM verifier. */
export function resolveReplicationPassword(spec: Spec): Promise<Secret> {
  return resolveSecret(spec.replication.password, 'replication.password', passwordText);
}

/**
 * The spec with each secret reference in repository.options replaced by its value, for rendering
 * pgbackrest.conf inside an activity. Never return it, log it or pass it to a workflow.
 */
export async function withResolvedRepositoryOptions(spec: Spec): Promise<Spec> {
  const entries = await Promise.all(Object.entries(spec.repository.options ?? {}).map(async ([name, value]) =>
    [name, typeof value === 'object' ? (await resolveSecret(value, `repository.options.${name}`, optionText)).value : value] as const));
  return { ...spec, repository: { ...spec.repository, options: Object.fromEntries(entries) } };
}

/** The offsite repository's keys (and cipher pass), for its hosts' pgbackrest.conf; undefined without `offsite`. */
export async function resolveOffsiteKeys(spec: Spec): Promise<OffsiteKeys | undefined> {
  const o = spec.offsite;
  if (!o) return undefined;
  const [accessKey, secretKey, cipherPass] = await Promise.all([
    resolveSecret(o.accessKey, 'offsite.accessKey', optionText),
    resolveSecret(o.secretKey, 'offsite.secretKey', optionText),
    o.cipherPass && resolveSecret(o.cipherPass, 'offsite.cipherPass', optionText),
  ]);
  return { accessKey: accessKey.value, secretKey: secretKey.value, cipherPass: cipherPass ? cipherPass.value : undefined };
}
