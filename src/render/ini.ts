/**
 * pgBackRest's ini dialect: `[section]` headers, `key=value` lines (spaces around both trimmed),
 * `#` comments on their own line, repeated keys allowed (`recovery-option` may repeat).
 *
 * Entries are `[key, value]`; a line that is not a key (comment, blank) is kept as `['', line]`
 * so a merge can leave the text of sections it does not own exactly as it was. Lines before the
 * first header live in a section named ''.
 */
export type IniEntry = [string, string];
export interface IniSection {
  name: string;
  entries: IniEntry[];
}
export type Ini = { sections: IniSection[] };

/** The text a parsed entry or header came from, printed again while its content is unchanged. */
const sourceLine = new WeakMap<object, string>();

function parseKeyLine(line: string): IniEntry | undefined {
  const t = line.trim();
  if (t === '' || t.startsWith('#') || (t.startsWith('[') && t.endsWith(']'))) return undefined;
  const eq = t.indexOf('=');
  // pgBackRest rejects a line without '='; kept verbatim so we never lose what a human wrote.
  if (eq <= 0) return undefined;
  return [t.slice(0, eq).trim(), t.slice(eq + 1).trim()];
}

function headerName(line: string): string | undefined {
  const t = line.trim();
  return t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1).trim() : undefined;
}

function isKeyEntry(e: IniEntry): boolean {
  return e[0] !== '';
}

export function parseIni(text: string): Ini {
  const lines = text.split('\n');
  // A final newline ends the last line; it does not start an empty one.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const sections: IniSection[] = [{ name: '', entries: [] }];
  for (const line of lines) {
    const name = headerName(line);
    if (name !== undefined) {
      const section: IniSection = { name, entries: [] };
      sourceLine.set(section, line);
      sections.push(section);
      continue;
    }
    const kv = parseKeyLine(line);
    const entry: IniEntry = kv ?? ['', line];
    sourceLine.set(entry, line);
    sections[sections.length - 1].entries.push(entry);
  }
  if (sections[0].entries.length === 0) sections.shift();
  return { sections };
}

/** The line to print and whether it is the text as read. */
function renderEntry(e: IniEntry): [string, boolean] {
  const src = sourceLine.get(e);
  if (src !== undefined) {
    // Reprint the original text only if it still says the same thing (the tuple may have been edited).
    const again = parseKeyLine(src) ?? ['', src];
    if (again[0] === e[0] && again[1] === e[1]) return [src, true];
  }
  return [isKeyEntry(e) ? `${e[0]}=${e[1]}` : e[1], false];
}

export function renderIni(ini: Ini): string {
  const out: string[] = [];
  let lastFromSource = true;
  for (const section of ini.sections) {
    if (section.name !== '' || out.length > 0) {
      const src = sourceLine.get(section);
      const header = src !== undefined && headerName(src) === section.name ? src : undefined;
      // Text we write gets a blank line between it and the next header; text as read keeps its own spacing.
      if (out.length > 0 && out[out.length - 1].trim() !== '' && (header === undefined || !lastFromSource)) out.push('');
      out.push(header ?? `[${section.name}]`);
      lastFromSource = header !== undefined;
    }
    for (const e of section.entries) {
      const [line, fromSource] = renderEntry(e);
      out.push(line);
      lastFromSource = fromSource;
    }
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

export function findSection(ini: Ini, name: string): IniSection | undefined {
  return ini.sections.find((s) => s.name === name);
}

export function getValue(section: IniSection | undefined, key: string): string | undefined {
  return section?.entries.find((e) => e[0] === key)?.[1];
}

/** Index after the last key line: comments and blanks that trail a section usually introduce the next one. */
function endOfKeys(section: IniSection): number {
  for (let i = section.entries.length - 1; i >= 0; i--) if (isKeyEntry(section.entries[i])) return i + 1;
  return section.entries.length;
}

/**
 * Sets one key: the first occurrence is updated in place (untouched if the value is already
 * right, so its original spelling stays), later duplicates are dropped, a missing key is added
 * after the section's last key.
 */
export function setValue(section: IniSection, key: string, value: string): void {
  const first = section.entries.findIndex((e) => e[0] === key);
  if (first < 0) {
    section.entries.splice(endOfKeys(section), 0, [key, value]);
    return;
  }
  if (section.entries[first][1] !== value) section.entries[first] = [key, value];
  section.entries = section.entries.filter((e, i) => i <= first || e[0] !== key);
}

/**
 * Replaces a section's keys whole, keeping the comments and blank lines that trail it (they
 * belong to whatever follows). A missing section is appended, or inserted first when `first`.
 */
export function replaceSection(ini: Ini, name: string, entries: IniEntry[], first = false): IniSection {
  const existing = findSection(ini, name);
  if (existing) {
    const trailing = existing.entries.slice(endOfKeys(existing));
    // Keep the parsed tuples that did not change, so an unchanged file renders byte-for-byte.
    const old = existing.entries.slice(0, endOfKeys(existing));
    const reused = entries.map((e, i) => (old[i] && old[i][0] === e[0] && old[i][1] === e[1] ? old[i] : e));
    existing.entries = [...reused, ...trailing];
    return existing;
  }
  const section: IniSection = { name, entries: [...entries] };
  if (first) {
    // After a leading comment block (section ''), before every other section.
    const at = ini.sections.length > 0 && ini.sections[0].name === '' ? 1 : 0;
    ini.sections.splice(at, 0, section);
  } else {
    ini.sections.push(section);
  }
  return section;
}
