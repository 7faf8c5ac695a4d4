/**
 * The email module's SQL. A message is written in one transaction: its email_messages row first
 * (ON CONFLICT on message_id: the second file of a message stops there), then the episode and the
 * ingestion log row, so that the log never says more or less than what was stored.
 */

/** Of the keys $1, those read before: as a message's file, or as one of its duplicates. */
export const knownKeysSql = `
SELECT k AS key
  FROM unnest($1::text[]) AS k
 WHERE EXISTS (SELECT 1 FROM email_messages m WHERE m.maildir_key = k)
    OR EXISTS (SELECT 1 FROM email_messages m WHERE m.duplicate_keys @> ARRAY[k])`;

/** Every agent, to find the one a message is addressed to (loaded once per run). */
export const agentsSql = 'SELECT id, name FROM agents ORDER BY id';

/**
 * One message file: message_id $1, maildir_key $2, from $3, to $4, subject $5, sent_at $6, agent $7,
 * error_class $8, raw_sha256 $9, size $10. Nothing (no row returned) when the message is stored already.
 */
export const insertMessageSql = `
INSERT INTO email_messages (message_id, maildir_key, from_address, to_addresses, subject, sent_at, agent_id, error_class,
                            raw_sha256, size_bytes)
VALUES ($1, $2, $3, $4::text[], $5, $6::timestamptz, $7, $8, $9, $10)
    ON CONFLICT (message_id) DO NOTHING
RETURNING id`;

/** The file $2 holds message $1, stored from another file: remember the key, so it is not read again. */
export const addDuplicateKeySql = `
UPDATE email_messages
   SET duplicate_keys = array_append(duplicate_keys, $2::text)
 WHERE message_id = $1 AND maildir_key <> $2 AND NOT ($2 = ANY (duplicate_keys))
RETURNING maildir_key`;

/** The stored message's own file, for a duplicate's outcome. */
export const storedKeySql = 'SELECT maildir_key FROM email_messages WHERE message_id = $1';

/** The episode of agent $1: occurred at $2 (null: now), content $3, context $4. */
export const insertEpisodeSql = `
INSERT INTO memory_episodic (agent_id, occurred_at, content, context, importance)
VALUES ($1, coalesce($2::timestamptz, now()), $3, $4::jsonb, 0.5)
RETURNING id`;

export const setEpisodeSql = 'UPDATE email_messages SET episode_id = $2 WHERE id = $1';

/** email_ingest could not read its Maildir: error $1. */
export const recordEmailFolderErrorSql = `
UPDATE sync_status
   SET status = 'error', last_started_at = clock_timestamp(), last_error = $1, last_error_at = clock_timestamp(),
       note = NULL, updated_at = clock_timestamp()
 WHERE system_name = 'email_ingest'`;
