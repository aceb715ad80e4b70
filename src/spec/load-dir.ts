import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SpecError, type SpecIssue } from './errors';
import { loadSpec } from './load';
import type { Spec } from './schema';

/** A spec and the file it came from: every message about it names the file. */
export interface SpecFile {
  readonly file: string;
  readonly spec: Spec;
}

/** What a command needs of a spec beyond its validity (a drill needs `drills:`): the issues, none when it has it. */
export type SpecNeed = (spec: Spec) => SpecIssue[];

const SPEC_NAME = /\.(ya?ml|json)$/i;

/** Loads one spec file and holds it to what the command needs of it. */
export function loadSpecFile(file: string, need: SpecNeed = () => []): SpecFile {
  const spec = loadSpec(file);
  const issues = need(spec);
  if (issues.length > 0) throw new SpecError(issues, `${file}: cannot be used here`);
  return { file, spec };
}

/** The spec files directly in `dir`, sorted by name. Symlinks count (configuration management links specs in). */
function specFilesIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such directory' : err.code === 'ENOTDIR' ? 'not a directory' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new SpecError([{ path: '(root)', message: `cannot read ${dir}: ${why}` }], `${dir}: cannot read`);
  }
  const isDirectory = (path: string) => {
    try {
      return statSync(path).isDirectory();
    } catch {
      // A dangling link is kept: loading it names the file and why it cannot be read.
      return false;
    }
  };
  return names.filter((n) => SPEC_NAME.test(n)).sort().map((n) => join(dir, n)).filter((path) => !isDirectory(path));
}

/**
 * Specs naming the same stanza on the same repository host: pgBackRest would see one stanza,
 * whose backups and WAL two clusters would overwrite.
 */
export function sharedStanzas(specs: readonly SpecFile[]): SpecIssue[] {
  const first = new Map<string, string>();
  const issues: SpecIssue[] = [];
  for (const { file, spec } of specs) {
    // Host names are case-insensitive; a name and an address of one host cannot be told apart here.
    const key = `${spec.repository.host.toLowerCase()}\0${spec.stanza}`;
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, file);
    else issues.push({ path: `${file}: stanza`, message: `stanza ${spec.stanza} on repository host ${spec.repository.host} is also ${earlier}'s: the two would be one pgBackRest stanza` });
  }
  return issues;
}

/**
 * Specs of one repository host that set its budget differently: the host has one budget, whose
 * size the latest request sets (workflows/budget.ts), so the fleet would flap between them.
 */
export function unequalBudgets(specs: readonly SpecFile[]): SpecIssue[] {
  const first = new Map<string, SpecFile>();
  const issues: SpecIssue[] = [];
  for (const sf of specs) {
    const key = sf.spec.repository.host.toLowerCase();
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, sf);
    else if (earlier.spec.repository.budget !== sf.spec.repository.budget) {
      const said = (b: number | undefined) => (b === undefined ? 'no budget (the default)' : `budget ${b}`);
      issues.push({ path: `${sf.file}: repository.budget`, message: `${said(sf.spec.repository.budget)} for repository host ${sf.spec.repository.host}, but ${earlier.file} says ${said(earlier.spec.repository.budget)}: one host has one budget, give every spec of it the same` });
    }
  }
  return issues;
}

/**
 * Every `*.yaml`, `*.yml` and `*.json` file directly in `dir`, sorted by name, each valid and
 * holding what the command needs. One bad file refuses them all, so nothing starts on half a
 * fleet: the SpecError names each bad file with each bad field's path.
 */
export function loadSpecDir(dir: string, need: SpecNeed = () => []): SpecFile[] {
  const files = specFilesIn(dir);
  if (files.length === 0) throw new SpecError([{ path: '(root)', message: `no spec files (*.yaml, *.yml, *.json) in ${dir}` }], `${dir}: no specs`);
  const specs: SpecFile[] = [];
  const issues: SpecIssue[] = [];
  let bad = 0;
  for (const file of files) {
    try {
      specs.push(loadSpecFile(file, need));
    } catch (e) {
      if (!(e instanceof SpecError)) throw e;
      bad++;
      issues.push(...e.issues.map((i) => ({ path: `${file}: ${i.path}`, message: i.message })));
    }
  }
  const shared = [...sharedStanzas(specs), ...unequalBudgets(specs)];
  if (issues.length + shared.length > 0) {
    throw new SpecError([...issues, ...shared], `${dir}: ${bad + shared.length} of ${files.length} spec files cannot be used`);
  }
  return specs;
}
