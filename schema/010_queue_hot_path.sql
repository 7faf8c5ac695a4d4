-- A cheaper hot path for the queue. Each claimed job costs the server an update of its row and an
-- insert of its attempt row; each finished one an update of both. Measured per job (bench/), these
-- changes take the server's CPU from about 28 to about 17 µs.

-- 1. PostgreSQL evaluates every CHECK constraint on every UPDATE of a row. The bounded repetitions
--    ({1,64}) of the old patterns compile to large automata: about 2 µs per row per check. The same
--    rules, written as a length test and an unbounded pattern, cost a fraction of that.
ALTER TABLE job_queue
    DROP CONSTRAINT job_queue_queue_check,
    DROP CONSTRAINT job_queue_job_type_check;
ALTER TABLE job_queue
    ADD CONSTRAINT job_queue_queue_check CHECK (char_length(queue) BETWEEN 1 AND 64 AND queue ~ '^[a-z0-9_.-]+$'),
    ADD CONSTRAINT job_queue_job_type_check CHECK (char_length(job_type) <= 64 AND job_type ~ '^[a-z][a-z0-9_]*$');

-- 2. Attempt rows are keyed by (job_id, attempt), where attempt is the claim number: 1 for the
--    first claim, 2 for the next, and so on. job_queue.claims holds the count. job_queue.attempts
--    still counts only the attempts that use up max_attempts: a job handed back at shutdown keeps
--    its attempt row (outcome 'returned') but gets that attempt back.
ALTER TABLE job_queue ADD COLUMN claims integer NOT NULL DEFAULT 0 CHECK (claims >= 0);

-- Before this migration a returned job's next claim reused the returned attempt's number: renumber.
UPDATE job_attempts a
   SET attempt = r.claim
  FROM (SELECT id, row_number() OVER (PARTITION BY job_id ORDER BY id) AS claim FROM job_attempts) r
 WHERE a.id = r.id AND a.attempt <> r.claim;
UPDATE job_queue j
   SET claims = c.n
  FROM (SELECT job_id, count(*) AS n FROM job_attempts GROUP BY job_id) c
 WHERE j.id = c.job_id;

-- 3. No surrogate id (one index entry fewer per attempt), and no declared foreign key: its check is
--    a per-row lookup and lock of the job, about 3 µs per claimed job. Attempt rows are written only
--    by the queue's own statements, in the statement that changes their job; the pruner deletes a
--    job's attempts with the job.
-- (The key is replaced before the id column goes: the order CockroachDB also accepts.)
ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_job_id_fkey;
ALTER TABLE job_attempts DROP CONSTRAINT job_attempts_pkey;
ALTER TABLE job_attempts ADD CONSTRAINT job_attempts_pkey PRIMARY KEY (job_id, attempt);
ALTER TABLE job_attempts DROP COLUMN id;
DROP INDEX job_attempts_job_idx;

-- 4. An attempt row is updated once, when it finishes (outcome, finished_at: neither indexed). With
--    pages kept under half full, the new version fits beside the old one and the update is HOT: no
--    new index entry, less WAL.
ALTER TABLE job_attempts SET (fillfactor = 45);
