-- Fewer indexes on the hot table. Every status change of a job is a non-HOT update that writes an
-- entry into each index whose predicate the new row satisfies; these two took one entry per job per
-- transition for the benefit of operator listings and the pruner:
--   job_queue_type_status_idx: listings by type and status now read the (small) partial indexes or scan;
--   job_queue_finished_at_idx: the pruner walks the primary key in id order instead (old jobs first).
DROP INDEX job_queue_type_status_idx;
DROP INDEX job_queue_finished_at_idx;

-- Dead jobs are kept and listed; few, so this index costs little.
CREATE INDEX job_queue_failed_idx ON job_queue (job_type, id) WHERE status = 'failed';

-- Attempt rows are updated once (outcome, finished_at), neither indexed: leave room on each page so
-- that update is HOT (no new index entries).
ALTER TABLE job_attempts SET (fillfactor = 70);
