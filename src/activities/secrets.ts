import { readFile } from 'node:fs/promises';
import { Secret } from '../remote/command';
import type { SecretRef, Spec } from '../spec/schema';
import { refuse } from './failures';

/** Secrets are resolved here, on the worker, so their values never enter workflow history. */
export async function resolveSecret(ref: SecretRef, what: string): Promise<Secret> {
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (!value) throw refuse(`${what}: environment variable ${ref.env} is not set for the stanzactl worker`, 'SecretMissing');
    return new Secret(value);
  }
  let text: string;
  try {
    text = await readFile(ref.file, 'utf8');
  } catch (e) {
    throw refuse(`${what}: cannot read ${ref.file} on the worker (${(e as NodeJS.ErrnoException).code ?? e})`, 'SecretMissing');
  }
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
