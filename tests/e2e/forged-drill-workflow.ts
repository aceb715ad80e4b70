import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../src/activities';
import type { DrillResult } from '../../src/facts/drill';
import type { Spec } from '../../src/spec/schema';

/**
 * A workflow that is not a drill, run by a worker of the test's own on another task queue, asking
 * stanzactl's worker (task queue "stanzactl") to keep a made-up drill result.
 */
export async function forgeDrillRecord(spec: Spec, result: DrillResult): Promise<unknown> {
  const { recordDrill } = proxyActivities<Activities>({ taskQueue: 'stanzactl', startToCloseTimeout: '1 minute', retry: { maximumAttempts: 1 } });
  return recordDrill(spec, result);
}
