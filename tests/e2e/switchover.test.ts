import { describe } from 'node:test';
import { ProvisionFixture } from './fixture';
import { switchoverTests } from './switchover-checks';

describe('switchover: a planned change of primary with no data loss, survived by a worker SIGKILLed in the middle (Debian layout)', { timeout: 30 * 60_000 }, () => {
  switchoverTests(new ProvisionFixture('debian', 'stsw', '10.231.146.0/24'), { recordHistory: true });
});
