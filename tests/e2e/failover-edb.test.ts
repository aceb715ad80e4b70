import { failoverTests } from './failover-checks';

failoverTests('edb', ['stfe', '10.231.196.0/24'], false);
