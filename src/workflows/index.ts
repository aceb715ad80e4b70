export { provisionCluster } from './provision';
export { backupStanza } from './backup';
export { stanzaStatus } from './status';
export { rebuildStandby } from './rebuild';
export { restoreToHost } from './restore';
