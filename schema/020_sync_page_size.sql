-- Pages of 2,000 versions rather than 500: with the next page read while the last one is written,
-- a first sync of 100,000 rows takes about half the time (docs/benchmarks.md, bench/sync.mjs).
-- Only the seeded value changes; a batch_size an operator chose stays.
ALTER TABLE sync_tables ALTER COLUMN batch_size SET DEFAULT 2000;

UPDATE sync_tables SET batch_size = 2000 WHERE system_name = 'supabase' AND batch_size = 500;
