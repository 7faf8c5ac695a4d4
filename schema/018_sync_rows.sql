-- Sync identity and versions of the tables synced with Supabase, and their tombstones.
--
-- `cesar migrate` runs this file here and `cesar sync init` runs it on the remote, so it is
-- idempotent and names neither side: cesar_sync_origin() names the side, and is created here only
-- when the remote's init has not created it already (there it answers 'supabase').
--
-- Every synced row has
--   sync_id    uuid, its identity on both sides (the local bigint id is each side's own and never travels);
--   updated_at the version's time, stamped by this side's clock;
--   origin     the side that wrote the version ('cesar' or 'supabase').
-- A version (updated_at, origin) beats another when it is greater: last writer wins, and the
-- origin settles a tie the same way on both sides. Triggers stamp every write made by anyone (cesar,
-- psql, an application), keep the version of a write that changed only local columns, and turn a
-- DELETE into a tombstone, which travels like a row so that an older update cannot resurrect it.
-- The sync itself writes with cesar.sync_applying = 'on': versions from the other side are written
-- as they came, so they are never sent back.

DO $$
BEGIN
    IF to_regprocedure('cesar_sync_origin()') IS NULL THEN
        CREATE FUNCTION cesar_sync_origin() RETURNS text LANGUAGE sql IMMUTABLE AS $f$ SELECT 'cesar'::text $f$;
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS sync_tombstones (
    table_name text        NOT NULL,
    sync_id    uuid        NOT NULL,
    -- The version of the delete, as for a row.
    updated_at timestamptz NOT NULL,
    origin     text        NOT NULL,
    -- When it was deleted on this side (this side's clock): tombstones are purged some time after.
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, sync_id)
);

CREATE INDEX IF NOT EXISTS sync_tombstones_cursor_idx ON sync_tombstones (table_name, origin, updated_at, sync_id);

-- BEFORE INSERT OR UPDATE, per row. Arguments: the local columns (never synced) whose changes do not
-- make a new version, such as agents.last_step_at.
-- A version is stamped with the time of the write (clock_timestamp(), not the transaction's start),
-- so a row written later than a reader's bound can only belong to a transaction that already held a
-- transaction id then: the reader holds its bound behind those (see src/sync/queries.ts).
CREATE OR REPLACE FUNCTION cesar_sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('cesar.sync_applying', true) = 'on' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.sync_id IS DISTINCT FROM OLD.sync_id THEN
            RAISE EXCEPTION 'the sync_id of a % row cannot change', TG_TABLE_NAME USING ERRCODE = 'check_violation';
        END IF;
        IF to_jsonb(NEW) - TG_ARGV - 'updated_at' - 'origin' = to_jsonb(OLD) - TG_ARGV - 'updated_at' - 'origin' THEN
            NEW.updated_at := OLD.updated_at;
            NEW.origin := OLD.origin;
            RETURN NEW;
        END IF;
        -- Never older than the version it replaces, even when that came from a clock ahead of ours.
        NEW.updated_at := greatest(clock_timestamp(), OLD.updated_at + interval '1 microsecond');
    ELSE
        NEW.sync_id := coalesce(NEW.sync_id, gen_random_uuid());
        NEW.updated_at := clock_timestamp();
    END IF;
    NEW.origin := cesar_sync_origin();
    RETURN NEW;
END $$;

-- AFTER DELETE, per statement: a tombstone for each deleted row. While the sync applies a tombstone
-- from the other side it has written it already; rows deleted by a cascade get tombstones of their own.
CREATE OR REPLACE FUNCTION cesar_sync_tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('cesar.sync_applying', true) = 'on' THEN
        INSERT INTO sync_tombstones (table_name, sync_id, updated_at, origin)
        SELECT TG_TABLE_NAME, d.sync_id, greatest(clock_timestamp(), d.updated_at + interval '1 microsecond'), cesar_sync_origin()
          FROM deleted d
            ON CONFLICT (table_name, sync_id) DO NOTHING;
    ELSE
        INSERT INTO sync_tombstones (table_name, sync_id, updated_at, origin)
        SELECT TG_TABLE_NAME, d.sync_id, greatest(clock_timestamp(), d.updated_at + interval '1 microsecond'), cesar_sync_origin()
          FROM deleted d
            ON CONFLICT (table_name, sync_id) DO UPDATE
           SET updated_at = excluded.updated_at, origin = excluded.origin, deleted_at = now();
    END IF;
    RETURN NULL;
END $$;

-- AFTER INSERT, per statement: a row inserted again (a newer version beat its delete) has no tombstone.
CREATE OR REPLACE FUNCTION cesar_sync_revive() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sync_tombstones tb USING inserted i
     WHERE tb.table_name = TG_TABLE_NAME AND tb.sync_id = i.sync_id;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT * FROM (VALUES
            -- table, its local columns, and the column whose value names a row of reference data
            ('agents',             '''id'', ''last_step_at''', 'name'),
            ('workflow_templates', '''id''',                   'name'),
            ('memory_episodic',    '''id''',                   NULL),
            ('memory_semantic',    '''id''',                   NULL),
            ('financial_data',     '''id''',                   NULL)
        ) AS v(name, local_columns, reference_key)
    LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS sync_id uuid, ADD COLUMN IF NOT EXISTS origin text', t.name);
        -- Reference data (the 48 agents, the 5 templates) gets an identity derived from its name, so
        -- the same agent seeded on both sides is one row, not two rows fighting over one name.
        IF t.reference_key IS NOT NULL THEN
            EXECUTE format('UPDATE %I SET sync_id = md5(%L || %I)::uuid WHERE sync_id IS NULL', t.name, t.name || '/', t.reference_key);
        END IF;
        EXECUTE format('UPDATE %I SET sync_id = gen_random_uuid() WHERE sync_id IS NULL', t.name);
        EXECUTE format('UPDATE %I SET origin = cesar_sync_origin() WHERE origin IS NULL', t.name);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN sync_id SET DEFAULT gen_random_uuid(), ALTER COLUMN sync_id SET NOT NULL,
                                      ALTER COLUMN origin SET DEFAULT cesar_sync_origin(), ALTER COLUMN origin SET NOT NULL', t.name);
        EXECUTE format('CREATE UNIQUE INDEX IF NOT EXISTS %I ON %I (sync_id)', t.name || '_sync_id_key', t.name);
        -- What a sync reads: the versions one side wrote, in (updated_at, sync_id) order.
        EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I (origin, updated_at, sync_id)', t.name || '_sync_cursor_idx', t.name);

        EXECUTE format('DROP TRIGGER IF EXISTS cesar_sync_stamp ON %I', t.name);
        EXECUTE format('CREATE TRIGGER cesar_sync_stamp BEFORE INSERT OR UPDATE ON %I
                        FOR EACH ROW EXECUTE FUNCTION cesar_sync_stamp(%s)', t.name, t.local_columns);
        EXECUTE format('DROP TRIGGER IF EXISTS cesar_sync_tombstone ON %I', t.name);
        EXECUTE format('CREATE TRIGGER cesar_sync_tombstone AFTER DELETE ON %I REFERENCING OLD TABLE AS deleted
                        FOR EACH STATEMENT EXECUTE FUNCTION cesar_sync_tombstone()', t.name);
        EXECUTE format('DROP TRIGGER IF EXISTS cesar_sync_revive ON %I', t.name);
        EXECUTE format('CREATE TRIGGER cesar_sync_revive AFTER INSERT ON %I REFERENCING NEW TABLE AS inserted
                        FOR EACH STATEMENT EXECUTE FUNCTION cesar_sync_revive()', t.name);
    END LOOP;
END $$;
