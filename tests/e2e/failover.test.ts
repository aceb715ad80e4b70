import { failoverTests } from './failover-checks';

failoverTests('debian', ['stfo', '10.231.186.0/24'], true);
