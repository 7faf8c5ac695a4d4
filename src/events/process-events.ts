import { type EventPublisher, noEvents } from './envelope.js';

/**
 * The process's event publisher. Events are telemetry that many modules emit (the scheduler, the
 * step runner, the job observer) but that only a process's entry point can open, once it knows
 * REDIS_URL and the database; like the logger, it is set once at start and read where needed.
 * Until set, events go nowhere (library users who open no bus pay nothing).
 */
let current: EventPublisher = noEvents;

export function setProcessEvents(publisher: EventPublisher): void {
  current = publisher;
}

export function processEvents(): EventPublisher {
  return current;
}
