export { provisionCluster } from './provision';
export { backupStanza } from './backup';
export { stanzaStatus } from './status';
export { rebuildStandby } from './rebuild';
export { restoreDrill } from './drill';
export { restoreToHost } from './restore';
export { recoverCluster, recoverPlan } from './recover';
export { rehearseRecover } from './rehearse';
export { switchoverCluster, switchoverPlan } from './switchover';
