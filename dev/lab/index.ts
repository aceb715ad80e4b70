import { findHost } from './exec';
import { planNetwork, setHostLink } from './network';
import type { Lab } from './types';

export type { Lab, LabHost, LabLayout, LabS3 } from './types';
export { LAB_LAYOUTS, PRIMARY_HOST, REPOSITORY_HOST, S3_HOST, SCRATCH_HOST } from './types';
export { SYSTEMD_FLAVOURS } from './flavours';
export type { SystemdFlavour } from './flavours';
export type { LabStatus } from './status';
export type { LabUpOptions } from './up';
export { labUp, DEFAULT_PREFIX, DEFAULT_SUBNET } from './up';
export { labDown } from './down';
export { labStatus } from './status';
export { labPostgres, labSpec } from './spec';
export { labExec } from './exec';
export { labStartS3, labStopS3 } from './s3';

/** Cuts a host off the network (its end of the link goes down) or reconnects it. */
export async function labSetLink(lab: Lab, host: string, up: boolean): Promise<void> {
  await setHostLink(planNetwork(lab.prefix, lab.subnet, lab.s3 !== undefined), findHost(lab, host).name, up);
}
