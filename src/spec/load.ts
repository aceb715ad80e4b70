import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { SpecError } from './errors';
import type { Spec } from './schema';
import { checkSpec } from './validate';

function syntaxError(fileName: string, line: number | undefined, col: number | undefined, message: string): SpecError {
  const where = line === undefined ? '' : ` at line ${line}${col === undefined ? '' : `, column ${col}`}`;
  return new SpecError([{ path: '(root)', message: `syntax error${where}: ${message}` }], `${fileName}: cannot parse`);
}

function parseYamlDocument(text: string) {
  const lineCounter = new YAML.LineCounter();
  // parseDocument collects every error (duplicate keys included) instead of throwing on the first.
  const doc = YAML.parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  const first = doc.errors[0];
  const error = first && { pos: lineCounter.linePos(first.pos[0]), message: first.message.split('\n')[0] };
  return { doc, error };
}

function parseYaml(text: string, fileName: string): unknown {
  const { doc, error } = parseYamlDocument(text);
  if (error) throw syntaxError(fileName, error.pos.line, error.pos.col, error.message);
  return doc.toJS();
}

function parseJson(text: string, fileName: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    // V8 quotes the text around the error, newlines and all: the position below says it better.
    const message = (e as Error).message.replace(/, (\.\.\.)?".*$/s, '');
    const at = /at position (\d+)/.exec(message);
    if (at) {
      const before = text.slice(0, Number(at[1])).split('\n');
      throw syntaxError(fileName, before.length, before[before.length - 1].length + 1, message);
    }
    // V8 does not always say where; JSON is YAML too, and the YAML parser does.
    const { error } = parseYamlDocument(text);
    if (error) throw syntaxError(fileName, error.pos.line, error.pos.col, message);
    throw syntaxError(fileName, /end of JSON input/.test(message) ? text.split('\n').length : undefined, undefined, message);
  }
}

/** Parses and validates a spec; `fileName` picks the format (`.json` = JSON, else YAML) and names errors. */
export function parseSpec(text: string, fileName: string): Spec {
  const raw = fileName.toLowerCase().endsWith('.json') ? parseJson(text, fileName) : parseYaml(text, fileName);
  return checkSpec(raw, `${fileName}: invalid spec`);
}

export function loadSpec(path: string): Spec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new SpecError([{ path: '(root)', message: `cannot read ${path}: ${why}` }], `${path}: cannot read`);
  }
  return parseSpec(text, path);
}
