export { applySchedules, type AppliedSchedule } from './apply';
export { pauseSchedules, triggerSchedule, unpauseSchedules, type PausedSchedule, type PauseOptions, type TriggerResult } from './control';
export { listSchedules, type RecentRun, type RunStatus, type ScheduleView } from './list';
export { DEFAULT_CATCHUP_WINDOW } from './plan';
