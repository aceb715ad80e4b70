import type { z } from 'zod';

export interface SpecIssue {
  /** Field path as a DBA reads it: `nodes[1].role`, `postgres.control.type`, `(root)`. */
  readonly path: string;
  readonly message: string;
}

/** A spec that cannot be used, with every problem found, not only the first. */
export class SpecError extends Error {
  readonly issues: SpecIssue[];

  constructor(issues: SpecIssue[], heading = 'invalid spec') {
    super([`${heading}:`, ...issues.map((i) => `  ${i.path}: ${i.message}`)].join('\n'));
    this.name = 'SpecError';
    this.issues = issues;
  }
}

export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(root)' : out;
}

function describeType(t: string): string {
  return t === 'undefined' ? 'nothing' : t;
}

function issueMessages(issue: z.ZodIssue): SpecIssue[] {
  switch (issue.code) {
    case 'unrecognized_keys':
      // zod reports the object; the DBA wants the offending key itself.
      return issue.keys.map((k) => ({ path: formatPath([...issue.path, k]), message: 'unknown field' }));
    case 'invalid_type':
      return [
        {
          path: formatPath(issue.path),
          message: issue.received === 'undefined' ? 'required' : `expected ${issue.expected}, got ${describeType(issue.received)}`,
        },
      ];
    case 'invalid_union': {
      // A message set by the schema (an errorMap) says it better than anything derived here.
      if (issue.message !== 'Invalid input') return [{ path: formatPath(issue.path), message: issue.message }];
      // Report the alternative that came closest (fewest problems); when every alternative
      // rejects the value's type outright, say what was expected instead.
      const branches = issue.unionErrors.map((e) => e.issues);
      const typeOnly = branches.every((b) => b.length === 1 && b[0].code === 'invalid_type' && b[0].path.length === issue.path.length);
      if (typeOnly) {
        const expected = [...new Set(branches.map((b) => (b[0] as z.ZodInvalidTypeIssue).expected))].join(' or ');
        const received = (branches[0][0] as z.ZodInvalidTypeIssue).received;
        return [{ path: formatPath(issue.path), message: `expected ${expected}, got ${describeType(received)}` }];
      }
      const best = branches.reduce((a, b) => (b.length < a.length ? b : a));
      return best.flatMap(issueMessages);
    }
    default:
      return [{ path: formatPath(issue.path), message: issue.message }];
  }
}

export function formatZodError(e: z.ZodError, heading?: string): SpecError {
  return new SpecError(e.issues.flatMap(issueMessages), heading);
}
