export { provisionCluster } from './provision';
