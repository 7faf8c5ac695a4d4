-- The event bus's publishers, for /metrics. Workers publish lifecycle events (to a Redis stream, or
-- through NOTIFY) but /metrics is served by the API process: each publishing process writes its
-- counts here every few seconds and when it stops, one row per process (holder names it, e.g.
-- "worker:host:pid"). /metrics sums the rows updated in the last minutes; a row whose process
-- stopped a day ago is deleted by the next publisher that starts.
CREATE TABLE event_publishers (
    holder     text        PRIMARY KEY,
    transport  text        NOT NULL CHECK (transport IN ('redis', 'postgres', 'none')),
    published  bigint      NOT NULL CHECK (published >= 0),
    dropped    bigint      NOT NULL CHECK (dropped >= 0),
    connected  boolean     NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
