-- `cesar enqueue --key K --unique-for D`: the key also holds for D after its job finished (cron
-- firing twice, on two hosts or two crontab lines, makes one job). Finding the newest job of a key,
-- finished or not, reads this index; it holds keyed jobs only, so unkeyed jobs pay nothing for it.
CREATE INDEX job_queue_key_history_idx ON job_queue (dedupe_key, id) WHERE dedupe_key IS NOT NULL;
