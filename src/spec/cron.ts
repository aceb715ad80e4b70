import { CronPattern } from 'croner';

/**
 * The shorthands Temporal Schedules accept instead of the five fields (`@every` is an interval,
 * not a calendar, and is left to a spec field of its own should one be wanted).
 */
const SHORTHANDS = new Set(['@yearly', '@monthly', '@weekly', '@daily', '@hourly']);

// One list item as both Temporal and croner read it: a value or `*`, an optional range end, an
// optional step. Names are whole three-letter month or day names; croner's own extensions (L, W,
// #, ?) are refused here because Temporal does not take them.
const ITEM = /^(\*|\d{1,2}|[A-Za-z]{3})(-(\d{1,2}|[A-Za-z]{3}))?(\/\d{1,2})?$/;
const FIELDS = ['minute', 'hour', 'day of month', 'month', 'day of week'] as const;

/**
 * Why `text` is not a cron string a Temporal Schedule runs as we mean it, or undefined when it is.
 * Five fields only: Temporal reads six as "... year" where most crons read "second ...".
 */
export function cronProblem(text: string): string | undefined {
  const trimmed = text.trim();
  if (SHORTHANDS.has(trimmed.toLowerCase())) return undefined;
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) return `a cron expression has five fields (minute hour day-of-month month day-of-week), e.g. "30 1 * * 0"; got ${fields.length}`;
  for (const [i, field] of fields.entries()) {
    if (!field.split(',').every((item) => ITEM.test(item))) return `${FIELDS[i]} field "${field}" is not a value, a range, a list or a step`;
  }
  try {
    // sloppyRanges: "5/15" (start at 5, every 15) is valid for Temporal; ITEM already refused "/15".
    new CronPattern(trimmed, undefined, { mode: '5-part', sloppyRanges: true });
  } catch (e) {
    return (e as Error).message.replace(/^CronPattern: /, '');
  }
  return undefined;
}
