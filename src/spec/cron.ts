import { CronPattern } from 'croner';

/**
 * The shorthands Temporal Schedules accept instead of the five fields (`@every` is an interval,
 * not a calendar, and is left to a spec field of its own should one be wanted).
 */
const SHORTHANDS = new Set(['@yearly', '@monthly', '@weekly', '@daily', '@hourly']);

// One list item as Temporal reads it: a value or `*`, an optional range end, an optional step.
// croner's own extensions (L, W, #, ?) are refused here because Temporal does not take them ("#"
// even starts a comment there).
const ITEM = /^(\*|\d{1,2}|[A-Za-z]{3,9})(-(\d{1,2}|[A-Za-z]{3,9}))?(\/\d{1,2})?$/;
const FIELDS = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/**
 * Names as Temporal takes them (whole or in three letters, month names in the month field, day
 * names in the day-of-week field), rewritten to the three letters croner reads; undefined if one is not.
 */
function shortNames(field: string, i: number): string | undefined {
  const names = i === 3 ? MONTHS : i === 4 ? DAYS : [];
  let ok = true;
  const out = field.replace(/[A-Za-z]+/g, (word) => {
    const w = word.toLowerCase();
    if (!names.some((n) => n === w || n.slice(0, 3) === w)) ok = false;
    return w.slice(0, 3);
  });
  return ok ? out : undefined;
}

/**
 * Why `text` is not a cron string a Temporal Schedule runs as we mean it, or undefined when it is.
 * Five fields only: Temporal reads six as "... year" where most crons read "second ...".
 */
export function cronProblem(text: string): string | undefined {
  const trimmed = text.trim();
  if (SHORTHANDS.has(trimmed)) return undefined;
  const fields = trimmed.split(/\s+/);
  if (fields.length !== 5) return `a cron expression has five fields (minute hour day-of-month month day-of-week), e.g. "30 1 * * 0"; got ${fields.length}`;
  const short: string[] = [];
  for (const [i, field] of fields.entries()) {
    if (!field.split(',').every((item) => ITEM.test(item))) return `${FIELDS[i]} field "${field}" is not a value, a range, a list or a step`;
    const s = shortNames(field, i);
    if (s === undefined) return `${FIELDS[i]} field "${field}": ${i === 3 ? 'month names are jan-dec or january-december' : i === 4 ? 'day names are sun-sat or sunday-saturday' : 'no names here, numbers only'}`;
    short.push(s);
  }
  try {
    // sloppyRanges: "5/15" (start at 5, every 15) is valid for Temporal; ITEM already refused "/15".
    new CronPattern(short.join(' '), undefined, { mode: '5-part', sloppyRanges: true });
  } catch (e) {
    const why = (e as Error).message.replace(/^CronPattern: /, '');
    return `${why.charAt(0).toLowerCase()}${why.slice(1)} (fields: minute hour day-of-month month day-of-week)`;
  }
  return undefined;
}
