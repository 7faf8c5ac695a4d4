-- /metrics reads workflow history within a window (the last 7 days), never all of it: executions
-- and step runs are kept for good, so a scrape that read them all would cost more every day. These
-- indexes let each read go straight to the window.
CREATE INDEX workflow_executions_created_idx ON workflow_executions (created_at);
CREATE INDEX workflow_step_runs_finished_idx ON workflow_step_runs (finished_at) WHERE finished_at IS NOT NULL;
