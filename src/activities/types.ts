/** What every "ensure" activity reports: whether it had to act, and what it found or did. */
export interface StepResult {
  readonly changed: boolean;
  readonly detail: string;
}

export function merge(results: readonly StepResult[], idle: string): StepResult {
  const changed = results.filter((r) => r.changed);
  return changed.length
    ? { changed: true, detail: changed.map((r) => r.detail).join('; ') }
    : { changed: false, detail: idle };
}
