-- The LLM response cache (src/llm/cache.ts). An entry answers one canonical request to one model
-- build: cache_key is sha256(request_key || ':' || model_digest), so a re-pulled model (a new
-- digest) never serves an old answer; request_key (the request without the digest) finds the
-- newest answer of any build, served flagged stale only when Ollama cannot be reached and the
-- caller allows it.
ALTER TABLE llm_cache
    ADD COLUMN endpoint           text        NOT NULL DEFAULT 'generate' CHECK (endpoint IN ('generate', 'chat', 'embed')),
    ADD COLUMN request_key        text        CHECK (request_key ~ '^[0-9a-f]{64}$'),
    ADD COLUMN model_digest       text,
    -- The canonical request (what the refresh runs again) and Ollama's whole answer.
    ADD COLUMN request            jsonb       NOT NULL DEFAULT '{}',
    ADD COLUMN answer             jsonb,
    -- The model's digest changed since (llm_cache_refresh found a new build).
    ADD COLUMN stale              boolean     NOT NULL DEFAULT false,
    ADD COLUMN duration_ms        float8      CHECK (duration_ms >= 0),
    ADD COLUMN prompt_tokens      integer     CHECK (prompt_tokens >= 0),
    ADD COLUMN completion_tokens  integer     CHECK (completion_tokens >= 0),
    -- Requests that found no usable entry and asked the model (hits are hit_count).
    ADD COLUMN miss_count         bigint      NOT NULL DEFAULT 0 CHECK (miss_count >= 0),
    ADD COLUMN refreshed_at       timestamptz,
    ADD COLUMN refresh_count      integer     NOT NULL DEFAULT 0 CHECK (refresh_count >= 0),
    ADD COLUMN last_refresh_error text;

CREATE INDEX llm_cache_request_key_idx ON llm_cache (request_key, created_at DESC);
