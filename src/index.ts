/**
 * cesar as a library: what bench scripts, tests and programs that embed cesar import (`import {
 * ... } from 'cesar'`) instead of reaching into dist/. Everything else is internal and may change.
 */

export { type Config, loadConfig } from './config.js';
export { connect, createPool, type DatabaseHandle, openDatabase } from './db/connect.js';
export { acquireEmbedded, type EmbeddedLease, type EmbeddedOptions } from './db/embedded.js';
export { acquireLease, releaseLease } from './db/leases.js';
export { migrate, migrationStatus, readMigrationFiles } from './db/migrator.js';
export { type TransactionOptions, withTransaction } from './db/transaction.js';
export type { Database } from './db/types.js';
export {
  CesarError,
  ConfigError,
  DatabaseError,
  ExitCode,
  InputError,
  InternalError,
  NotFoundError,
  StateError,
  UsageError,
} from './errors.js';
export { type EventBus, type EventBusOptions, openEventBus } from './events/bus.js';
export { jobEventsObserver } from './events/job-events.js';
export { processEvents, setProcessEvents } from './events/process-events.js';
export { builtInJobTypes } from './jobs/index.js';
export { createLogger, type Logger, silentLogger } from './log.js';
export { MaintenanceRunner, type MaintenanceTask } from './maintenance/runner.js';
export { type EnqueuedJob, enqueue, enqueueMany, type NewJob } from './queue/enqueue.js';
export {
  defineJobType,
  integerIn,
  type JobContext,
  type JobHandler,
  JobTypeRegistry,
  type JobTypeSpec,
} from './queue/job-types.js';
export { cancelJob, retryJob } from './queue/jobs.js';
export type { JobLifecycleObserver, JobOutcome } from './queue/observer.js';
/** The queue's SQL statements, for benchmarks and diagnostics (claim, complete, fail, ...). */
export * as queueStatements from './queue/queries.js';
export { Worker, type WorkerOptions, type WorkerStats } from './queue/worker.js';
export * from './read-model/index.js';
export { Scheduler, type SchedulerOptions, type SchedulerStats } from './scheduler/scheduler.js';
export { dueTicks, nextTick, ticksBetween } from './scheduler/slots.js';
export { runService, type Service } from './service.js';
export { builtInStepHandlers } from './steps/index.js';
export { runVerify } from './verify/runner.js';
export {
  applyTemplates,
  cancel as cancelExecution,
  fireCurrentMinute,
  parseTemplates,
  retry as retryExecution,
  runNow as runWorkflow,
  setActive as setWorkflowActive,
  setSchedule as setWorkflowSchedule,
} from './workflows/admin.js';
export {
  defineStepHandler,
  type StepContext,
  type StepHandler,
  StepHandlerRegistry,
  type StepHandlerSpec,
} from './workflows/step-handlers.js';
