-- When each version of a semantic fact arrived in this database, by this database's clock.
--
-- A version's updated_at is the time of the side that wrote it: a fact written on Supabase and
-- pulled here later keeps the time it was written there, which may be older than what the
-- knowledge graph update has already read here (its cursor). The graph reads memory_semantic in
-- order of arrival instead, so a pulled fact is read whatever its version time.
--
-- arrived_at is local: it never travels (src/sync/tables.ts does not list it), and a change of it
-- alone is no new version (the stamping trigger is told to ignore it). It is stamped after the
-- version: trigger cesar_version_arrival fires after cesar_sync_stamp (triggers fire in name order).

ALTER TABLE memory_semantic ADD COLUMN arrived_at timestamptz;
UPDATE memory_semantic SET arrived_at = updated_at;
ALTER TABLE memory_semantic ALTER COLUMN arrived_at SET NOT NULL;

CREATE INDEX memory_semantic_arrival_idx ON memory_semantic (arrived_at, id);

-- BEFORE INSERT OR UPDATE, per row: a new version arrives now. A writer that knows when a row
-- arrived (a restore, a test's fixture) may say so: a value given on insert, or changed by the
-- update itself, is kept.
CREATE FUNCTION cesar_version_arrival() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.arrived_at := coalesce(NEW.arrived_at, clock_timestamp());
    ELSIF NEW.arrived_at IS NOT DISTINCT FROM OLD.arrived_at
          AND (NEW.updated_at, NEW.origin) IS DISTINCT FROM (OLD.updated_at, OLD.origin) THEN
        NEW.arrived_at := clock_timestamp();
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER cesar_version_arrival BEFORE INSERT OR UPDATE ON memory_semantic
    FOR EACH ROW EXECUTE FUNCTION cesar_version_arrival();

DROP TRIGGER cesar_sync_stamp ON memory_semantic;
CREATE TRIGGER cesar_sync_stamp BEFORE INSERT OR UPDATE ON memory_semantic
    FOR EACH ROW EXECUTE FUNCTION cesar_sync_stamp('id', 'arrived_at');

-- The graph's clock is the newest row time read (evidence time), kept apart from the cursor, which
-- for memory_semantic is an arrival time.
ALTER TABLE knowledge_cursors ADD COLUMN seen_at timestamptz;
UPDATE knowledge_cursors SET seen_at = cursor_at;
