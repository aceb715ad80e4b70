import { ApplicationFailure, patched } from '@temporalio/workflow';
import { SpecError } from '../spec/errors';
import { inputIssues, type WorkflowArguments } from '../spec/validate';

// Runs started before the workers validated their input have no marker: they go on as they did
// (their activities still refuse a bad spec), rather than failing replay with a nondeterminism error.
const VALIDATED_INPUT = 'validated-input';

/**
 * The first thing every workflow does: a client other than the CLI (the Temporal UI, `temporal
 * workflow start`, a Schedule edited by hand) can hand it anything. A bad input fails the run
 * before any activity is scheduled, so nothing touches a host. A good one adds no command to the
 * history (the marker is recorded only on the way to the failure): recorded histories replay.
 */
export function checkInput(workflow: string, spec: unknown, args?: WorkflowArguments): void {
  const issues = inputIssues(spec, args);
  if (issues.length === 0 || !patched(VALIDATED_INPUT)) return;
  const e = new SpecError(issues, `${workflow}: invalid input, nothing was done`);
  throw ApplicationFailure.create({ message: e.message, type: 'InvalidSpec', nonRetryable: true, details: [issues] });
}
