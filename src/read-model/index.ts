/**
 * The read model: the queries that status, verify, the API, /metrics and the dashboard share, typed
 * from db/types.ts and answered in the shape JSON carries them (snake_case, ISO 8601 times). Writes
 * live with the module that owns them (the queue's hot path keeps its own statements).
 */
export { agentCounts } from './agents.js';
export {
  type AttemptDurations,
  type AttemptView,
  attemptCounts,
  attemptDurations,
  countOf,
  getJob,
  type JobCount,
  type JobDetailView,
  type JobView,
  jobCounts,
  jobStatuses,
  type ListJobsOptions,
  listJobs,
  queueSummary,
  toJobView,
} from './jobs.js';
export { getStatus, type StatusView } from './status.js';
export { listSyncSystems, type SyncSystemView } from './sync.js';
export { listWorkers, liveWorkerSeconds, type WorkerState, type WorkerView, workerCounts } from './workers.js';
export { listTemplates, type TemplateView, workflowRunCounts } from './workflows.js';
