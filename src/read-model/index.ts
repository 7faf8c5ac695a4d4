/**
 * The read model: the queries that status, verify, the API, /metrics and the dashboard share, typed
 * from db/types.ts and answered in the shape JSON carries them (snake_case, ISO 8601 times). Writes
 * live with the module that owns them (the queue's hot path keeps its own statements).
 */
export { agentCounts } from './agents.js';
export { type IngestFailureView, type IngestSourceView, listIngestFailures, listIngestSources } from './ingest.js';
export {
  type AttemptView,
  checkJobId,
  type JobDetailView,
  type JobRow,
  type JobView,
  jobColumns,
  jobStatuses,
  toJobView,
} from './job-view.js';
export {
  type AttemptDurations,
  attemptCounts,
  attemptDurations,
  countOf,
  getJob,
  type JobCount,
  jobCounts,
  type ListJobsOptions,
  listJobs,
  queueSummary,
} from './jobs.js';
export { type LlmCacheModelCounts, llmAnswerDurations, llmCacheCounts } from './llm.js';
export { getStatus, type StatusView } from './status.js';
export { listSyncSystems, listSyncTables, type SyncSystemView, type SyncTableView } from './sync.js';
export { listWorkers, liveWorkerSeconds, type WorkerState, type WorkerView, workerCounts } from './workers.js';
export {
  databaseNow,
  type ExecutionFilter,
  type ExecutionSummary,
  type ExecutionView,
  getExecution,
  type HistoryEntry,
  lateAfterSeconds,
  listExecutions,
  listTemplates,
  liveSchedulerCount,
  liveSchedulerSeconds,
  type StepRunView,
  stepDurations,
  type TemplateView,
  tickLags,
  type WorkflowHistogram,
  workflowHistory,
  workflowRunCounts,
} from './workflows.js';
