-- Job attempts and their durations per minute, counted by the workers, so that /metrics reads a
-- few counter rows instead of the finished history of job_attempts and job_queue.

-- The attempts a worker settled in each minute (the minute's start, database time), by type,
-- outcome and duration bucket: `attempts` counts those that took more than the next lower bound and
-- at most `le` seconds ('Infinity' for the longer ones), `total_seconds` is their summed duration.
-- A bucket is not cumulative: the attempts at most b seconds are sum(attempts) WHERE le <= b.
-- Written in the same statement as job_throughput; rows older than 7 days are pruned with it.
CREATE TABLE job_attempt_durations (
    minute        timestamptz      NOT NULL,
    job_type      text             NOT NULL,
    outcome       text             NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'timed_out')),
    le            double precision NOT NULL CHECK (le > 0),
    attempts      bigint           NOT NULL CHECK (attempts >= 0),
    total_seconds double precision NOT NULL CHECK (total_seconds >= 0),
    PRIMARY KEY (minute, job_type, outcome, le)
);
