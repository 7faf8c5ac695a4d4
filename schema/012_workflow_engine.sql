-- The workflow engine: scheduling policies, the tick record, durable steps carried out by agents.

-- Templates ------------------------------------------------------------------------------------------
-- catchup: what a scheduler does with ticks it missed (no scheduler ran at the time):
--   skip (record them as skipped), latest (fire the newest once, record the rest as coalesced),
--   all (fire each, the newest catchup_max_count of them, none older than catchup_max_age_seconds).
-- overlap: what a tick does while the template's previous execution still runs:
--   skip (record the tick as skipped), queue (start when the previous one ends), allow (run both).
-- active_since: ticks before it are never due (a new or resumed template does not catch up on its pause).
ALTER TABLE workflow_templates
    ADD COLUMN catchup                 text        NOT NULL DEFAULT 'latest' CHECK (catchup IN ('skip', 'latest', 'all')),
    ADD COLUMN catchup_max_count       integer     NOT NULL DEFAULT 10 CHECK (catchup_max_count BETWEEN 1 AND 100),
    ADD COLUMN catchup_max_age_seconds integer     NOT NULL DEFAULT 86400 CHECK (catchup_max_age_seconds > 0),
    ADD COLUMN overlap                 text        NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'queue', 'allow')),
    ADD COLUMN active_since            timestamptz NOT NULL DEFAULT now();

-- Steps: `action` names the registered step handler that carries the step out (templates as JSON
-- call it "handler"); `config` is that handler's settings. (The column keeps its name so that the
-- reference data of 007 still applies as written.)
COMMENT ON COLUMN workflow_steps.action IS 'the name of the registered step handler that carries the step out';
ALTER TABLE workflow_steps
    ADD COLUMN config       jsonb   NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(config) = 'object'),
    ADD COLUMN max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100);
ALTER TABLE workflow_steps ADD CONSTRAINT workflow_steps_timeout_limit CHECK (timeout_seconds <= 86400);
ALTER TABLE workflow_steps ALTER COLUMN description SET DEFAULT '';

-- Agents: an optional limit on the steps one agent carries out at once, and when it last took one
-- (the least recently used free agent of a step's type takes the next step).
ALTER TABLE agents
    ADD COLUMN max_concurrent_steps integer CHECK (max_concurrent_steps > 0),
    ADD COLUMN last_step_at         timestamptz;

-- Executions -----------------------------------------------------------------------------------------
-- steps: the template's steps as they were when the execution was created (it runs with those, even
-- if the template changes); template_version: a hash of them. queued: made by a tick under the queue
-- overlap policy, waiting for the previous execution to end. The row changes only when the status
-- does (its step rows say which step it is on): current_step, from 002, is no longer maintained.
ALTER TABLE workflow_executions
    ADD COLUMN input            jsonb   NOT NULL DEFAULT '{}',
    ADD COLUMN result           jsonb,
    ADD COLUMN steps            jsonb   NOT NULL DEFAULT '[]',
    ADD COLUMN template_version text    NOT NULL DEFAULT '',
    ADD COLUMN queued           boolean NOT NULL DEFAULT false,
    ADD COLUMN retries          integer NOT NULL DEFAULT 0 CHECK (retries >= 0);

ALTER TABLE workflow_executions DROP CONSTRAINT workflow_executions_trigger_check;
ALTER TABLE workflow_executions ADD CONSTRAINT workflow_executions_trigger_check
    CHECK (trigger IN ('schedule', 'manual', 'cron'));

-- One execution per tick (workflow_ticks makes it so; this index is the second line of defence), but
-- any number of manual runs: two asked for in the same microsecond must not collide.
ALTER TABLE workflow_executions DROP CONSTRAINT workflow_executions_template_id_scheduled_for_key;
CREATE UNIQUE INDEX workflow_executions_tick_idx ON workflow_executions (template_id, scheduled_for)
    WHERE trigger <> 'manual';

CREATE INDEX workflow_executions_template_idx ON workflow_executions (template_id, created_at);
-- The unfinished executions of a template: overlap checks and the queue policy's next-to-start.
CREATE INDEX workflow_executions_unfinished_idx ON workflow_executions (template_id, id)
    WHERE status IN ('pending', 'running');

-- Step runs: one row per step of an execution, the latest state of its attempts.
ALTER TABLE workflow_step_runs
    ADD COLUMN name        text    NOT NULL DEFAULT '',
    ADD COLUMN handler     text    NOT NULL DEFAULT '',
    ADD COLUMN attempts    integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN job_id      bigint,
    ADD COLUMN reason      text,
    ADD COLUMN duration_ms double precision;
ALTER TABLE workflow_step_runs DROP CONSTRAINT workflow_step_runs_status_check;
ALTER TABLE workflow_step_runs ADD CONSTRAINT workflow_step_runs_status_check
    CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled'));
ALTER TABLE workflow_step_runs ALTER COLUMN status SET DEFAULT 'pending';

-- Ticks ----------------------------------------------------------------------------------------------
-- One row per cron tick of a template, whatever became of it: the primary key makes a second
-- scheduler's insert of the same tick a no-op. fired: it made execution_id. skipped: why in reason.
-- coalesced: folded into a later tick that fired (catch-up policy latest).
CREATE TABLE workflow_ticks (
    template_id  bigint      NOT NULL REFERENCES workflow_templates (id) ON DELETE CASCADE,
    tick_at      timestamptz NOT NULL,
    fate         text        NOT NULL CHECK (fate IN ('fired', 'skipped', 'coalesced')),
    execution_id bigint      REFERENCES workflow_executions (id) ON DELETE SET NULL,
    reason       text,
    -- scheduler: a cesar scheduler; enqueue: `cesar enqueue --workflow` (a crontab).
    source       text        NOT NULL CHECK (source IN ('scheduler', 'enqueue')),
    recorded_by  text        NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, tick_at)
);

-- The scheduler processes that are running: a late schedule with none alive is reported as such.
CREATE TABLE schedulers (
    id                text        PRIMARY KEY,
    hostname          text        NOT NULL,
    pid               integer     NOT NULL,
    version           text        NOT NULL,
    started_at        timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at        timestamptz
);

CREATE INDEX agent_events_execution_idx ON agent_events (execution_id, id) WHERE execution_id IS NOT NULL;
