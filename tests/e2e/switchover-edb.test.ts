import { describe } from 'node:test';
import { ProvisionFixture } from './fixture';
import { switchoverTests } from './switchover-checks';

// The EDB-like layout: pg_ctl, enterprisedb, port 5444, config (postgresql.auto.conf included) in the data directory.
describe('switchover: a planned change of primary with no data loss, survived by a worker SIGKILLed in the middle (EDB-like layout)', { timeout: 30 * 60_000 }, () => {
  switchoverTests(new ProvisionFixture('edb', 'stse', '10.231.176.0/24'), { recordHistory: false });
});
