-- Queue runtime. Wake workers when jobs are enqueued: one notification per INSERT statement (not per row), sent at
-- commit. The payload is empty: a notification only nudges workers to claim; polling remains the
-- fallback (and the only mode on CockroachDB or behind a transaction-mode pooler).

CREATE FUNCTION cesar_notify_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cesar_jobs', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER job_queue_notify
    AFTER INSERT ON job_queue
    FOR EACH STATEMENT EXECUTE FUNCTION cesar_notify_jobs();

-- An operator can cancel a running job; its open attempt is closed as cancelled.
ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_outcome_check;
ALTER TABLE job_attempts ADD CONSTRAINT job_attempts_outcome_check
    CHECK (outcome IN ('running', 'succeeded', 'failed', 'timed_out', 'lease_expired', 'returned', 'cancelled'));
