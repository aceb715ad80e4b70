import { ApplicationFailure } from '@temporalio/workflow';
import { SpecError } from '../spec/errors';
import { inputIssues, type WorkflowArguments } from '../spec/validate';

/**
 * The first thing every workflow does: a client other than the CLI (the Temporal UI, `temporal
 * workflow start`, a Schedule edited by hand) can hand it anything. A bad input fails the run
 * before any activity is scheduled, so nothing touches a host, and it adds no command to the
 * history of a good one (recorded histories replay unchanged).
 */
export function checkInput(workflow: string, spec: unknown, args?: WorkflowArguments): void {
  const issues = inputIssues(spec, args);
  if (issues.length === 0) return;
  const e = new SpecError(issues, `${workflow}: invalid input, nothing was done`);
  throw ApplicationFailure.create({ message: e.message, type: 'InvalidSpec', nonRetryable: true, details: [issues] });
}
