import { ApplicationFailure } from '@temporalio/common';

/** A refusal a DBA must act on: never retried. */
export function refuse(message: string, type = 'Refused'): ApplicationFailure {
  return ApplicationFailure.create({ message, type, nonRetryable: true });
}

interface Classified {
  readonly name: string;
  readonly message: string;
  readonly retryable: boolean;
}

function isClassified(e: unknown): e is Classified {
  return e instanceof Error && typeof (e as Partial<Classified>).retryable === 'boolean';
}

/**
 * Errors that know whether they are transient (SSH, remote commands, pgBackRest exit codes) become
 * ApplicationFailures with their class name as type, so the retry policy and the UI see the
 * distinction. Anything unknown is left as is and retried by the activity's policy.
 */
export function toFailure(e: unknown): unknown {
  if (e instanceof ApplicationFailure || !isClassified(e)) return e;
  return ApplicationFailure.create({ message: e.message, type: e.name, nonRetryable: !e.retryable, cause: e });
}

/** Wraps every activity so thrown errors are classified the same way. */
export function classified<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (e) {
      throw toFailure(e);
    }
  };
}
