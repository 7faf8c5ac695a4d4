/**
 * The parts `cesar start` runs, in one table: adding a part is one entry here (and its `cesar
 * <part>` command). Each part runs as its own child process of `cesar start`.
 */

export interface StartSettings {
  apiPort: number;
  dashboardPort: number;
  host: string;
  workers: number;
  concurrency: number;
}

export interface PartDefinition {
  name: 'api' | 'worker' | 'scheduler' | 'dashboard';
  /** How many processes of it to run (default 1). */
  count?: (settings: StartSettings) => number;
  /** The `cesar` arguments of one of its processes (logging flags come first, from start). */
  args: (settings: StartSettings) => string[];
  /** The port it must find free before anything starts, and the flag that changes it. */
  port?: (settings: StartSettings) => { port: number; flag: string };
  /** How long it gets to stop after SIGTERM before SIGKILL. */
  stopGraceMs: number;
}

export const parts: readonly PartDefinition[] = [
  {
    name: 'api',
    args: (s) => ['api', '--api-port', String(s.apiPort), '--host', s.host],
    port: (s) => ({ port: s.apiPort, flag: '--api-port' }),
    stopGraceMs: 10_000,
  },
  {
    name: 'worker',
    count: (s) => s.workers,
    args: (s) => ['worker', '--concurrency', String(s.concurrency)],
    // The worker's own shutdown grace is 30 s; then its writes.
    stopGraceMs: 40_000,
  },
  {
    name: 'scheduler',
    args: () => ['scheduler'],
    stopGraceMs: 10_000,
  },
  {
    name: 'dashboard',
    args: (s) => ['dashboard', '--dashboard-port', String(s.dashboardPort), '--host', s.host],
    port: (s) => ({ port: s.dashboardPort, flag: '--dashboard-port' }),
    stopGraceMs: 10_000,
  },
];

export const partNames: readonly string[] = parts.map((p) => p.name);
