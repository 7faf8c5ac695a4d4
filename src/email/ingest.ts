import { performance } from 'node:perf_hooks';
import type { Queryable } from '../db/queryable.js';
import { type ConnectionPool, withClientTransaction } from '../db/transaction.js';
import { ConfigError } from '../errors.js';
import { logIngestionAttempt } from '../ingestion/log.js';
import type { Logger } from '../log.js';
import { recordSystemNotConfigured, recordSystemRun } from '../sync/system-status.js';
import { storableText } from '../text.js';
import { AgentDirectory } from './addressing.js';
import { listMaildir, type MaildirEntry, MaildirError, type ReadMessage, readMessage } from './maildir.js';
import { MalformedEmailError, type ParsedEmail, parseEmail } from './parse.js';
import {
  addDuplicateKeySql,
  agentsSql,
  insertEpisodeSql,
  insertMessageSql,
  knownKeysSql,
  recordEmailFolderErrorSql,
  setEpisodeSql,
  storedKeySql,
} from './queries.js';
import type { EmailSettings } from './settings.js';

/**
 * email_ingest: one pass over the Maildir. Every file of new/ and cur/ not read before is parsed and
 * accounted for once, in one transaction: a message addressed to an agent becomes that agent's
 * episodic memory; a message stored before (the same Message-ID, or the same bytes) only has its
 * file's key remembered; a file that is not a message, or is addressed to no agent, is recorded as
 * failed (email_messages with its error_class, and ingestion_log) and not read again. So a second
 * pass over the same Maildir writes nothing and logs nothing. The Maildir itself is never changed.
 */

export type Pool = ConnectionPool & Queryable;

export type EmailErrorClass = 'malformed' | 'no_agent' | 'too_large' | 'unreadable';

export interface MessageOutcome {
  /** The file's maildir key (its name before ':'). */
  key: string;
  /** Where it was read: new/NAME or cur/NAME. */
  file: string;
  status: 'stored' | 'duplicate' | 'failed';
  /** As recorded: the Message-ID, or sha256:HEX of the file for a message without one; null for an unreadable file. */
  message_id: string | null;
  from: string | null;
  subject: string | null;
  agent: string | null;
  agent_id: number | null;
  episode_id: number | null;
  /** For a duplicate: the key of the file the message was stored from. */
  duplicate_of: string | null;
  error_class: EmailErrorClass | null;
  error: string | null;
  ingestion_log_id: number | null;
}

export interface EmailIngestRun {
  maildir: string;
  /** Message files in new/ and cur/. */
  files: number;
  /** Of those, read by an earlier run (skipped). */
  already_ingested: number;
  /** The files read now, one outcome each. */
  messages: MessageOutcome[];
  stored: number;
  duplicates: number;
  failed: number;
}

export interface EmailIngestOptions {
  /** The job that runs the ingestion, for the log. */
  jobId?: number;
  /** Stops the pass between two messages (what is done stays done); the rest waits for the next pass. */
  signal?: AbortSignal;
  log?: Logger;
}

export const maildirNotConfiguredNote =
  'CESAR_MAILDIR is not set: set it to the Maildir folder whose messages email_ingest reads (the folder with new/ and cur/)';

/** sync_status of email_ingest says not_configured, with the line that says what to set. */
export async function markEmailNotConfigured(pool: Queryable): Promise<void> {
  await recordSystemNotConfigured(pool, 'email_ingest', maildirNotConfiguredNote);
}

/**
 * One pass over settings.maildir. Throws ConfigError (exit 78) when CESAR_MAILDIR is not set, or the
 * Maildir cannot be read (MaildirError, naming the path); sync_status says which.
 */
export async function ingestMaildir(pool: Pool, settings: EmailSettings, options: EmailIngestOptions = {}): Promise<EmailIngestRun> {
  const dir = settings.maildir;
  if (dir === undefined) {
    await markEmailNotConfigured(pool);
    throw new ConfigError(maildirNotConfiguredNote, 'see "Email ingestion" in the README');
  }
  const started = performance.now();
  let entries: MaildirEntry[];
  try {
    entries = await listMaildir(dir);
  } catch (err) {
    if (err instanceof MaildirError) await pool.query({ text: recordEmailFolderErrorSql, values: [err.message.slice(0, 2000)] });
    throw err;
  }
  const known = await knownKeys(
    pool,
    entries.map((e) => e.key),
  );
  const fresh = entries.filter((e) => !known.has(e.key));
  const directory = new AgentDirectory(
    (await pool.query<{ id: string | number; name: string }>({ text: agentsSql })).rows.map((a) => ({ id: Number(a.id), name: a.name })),
  );

  const messages: MessageOutcome[] = [];
  for (const entry of fresh) {
    if (options.signal?.aborted) break;
    const outcome = await ingestFile(pool, dir, entry, directory, settings, options);
    if (outcome) messages.push(outcome);
  }
  const run: EmailIngestRun = {
    maildir: dir,
    files: entries.length,
    already_ingested: entries.length - fresh.length,
    messages,
    stored: messages.filter((m) => m.status === 'stored').length,
    duplicates: messages.filter((m) => m.status === 'duplicate').length,
    failed: messages.filter((m) => m.status === 'failed').length,
  };
  await recordRun(pool, run, performance.now() - started);
  options.signal?.throwIfAborted();
  return run;
}

async function knownKeys(pool: Queryable, keys: string[]): Promise<Set<string>> {
  const known = new Set<string>();
  for (let i = 0; i < keys.length; i += 10_000) {
    const { rows } = await pool.query<{ key: string }>({ text: knownKeysSql, values: [keys.slice(i, i + 10_000)] });
    for (const r of rows) known.add(r.key);
  }
  return known;
}

/** One file, read, parsed and written; undefined when it went away before it could be read. */
async function ingestFile(
  pool: Pool,
  dir: string,
  entry: MaildirEntry,
  directory: AgentDirectory,
  settings: EmailSettings,
  options: EmailIngestOptions,
): Promise<MessageOutcome | undefined> {
  const started = performance.now();
  let read: ReadMessage | undefined;
  try {
    read = await readMessage(dir, entry, settings.maxMessageBytes);
  } catch (err) {
    // Not recorded in email_messages (there are no bytes to identify it by): read again next pass.
    const error = `cannot read ${entry.file}: ${(err as Error).message}`;
    const id = await logMessage(pool, entry.key, options.jobId, performance.now() - started, { error, errorClass: 'unreadable' });
    return { ...blank(entry.key, entry.file), status: 'failed', error_class: 'unreadable', error, ingestion_log_id: id };
  }
  if (read === undefined) {
    options.log?.debug(`email_ingest: ${entry.file} went away before it was read`);
    return undefined;
  }
  const rawId = `sha256:${read.sha256}`;
  let parsed: ParsedEmail | undefined;
  let failure: { errorClass: EmailErrorClass; error: string } | undefined;
  if (read.raw === undefined) {
    failure = {
      errorClass: 'too_large',
      error: `the file is ${read.size} bytes, more than the ${settings.maxMessageBytes} bytes email_ingest parses`,
    };
  } else {
    try {
      parsed = await parseEmail(read.raw);
    } catch (err) {
      if (!(err instanceof MalformedEmailError)) throw err;
      failure = { errorClass: 'malformed', error: `not an email message: ${err.message}` };
    }
  }
  const addressee = parsed ? directory.addressee(parsed) : undefined;
  if (parsed && !addressee) failure = { errorClass: 'no_agent', error: describeUnaddressed(parsed) };

  const messageId = parsed?.message_id ?? rawId;
  const from = parsed?.from ? formatFrom(parsed.from) : null;
  const base: MessageOutcome = {
    ...blank(entry.key, read.file),
    message_id: messageId,
    from,
    subject: parsed?.subject ?? null,
  };
  // The log's subject: the Message-ID, or the file's key for a message without one.
  const logSubject = parsed?.message_id ?? entry.key;

  return withClientTransaction(pool, async (q) => {
    const inserted = await q.query<{ id: string }>({
      text: insertMessageSql,
      values: [
        messageId,
        entry.key,
        parsed?.from?.address || null,
        parsed ? [...new Set([...parsed.to, ...parsed.cc, ...parsed.delivered_to])] : [],
        parsed?.subject ?? null,
        parsed?.date ?? null,
        failure ? null : addressee!.agent.id,
        failure?.errorClass ?? null,
        read.sha256,
        read.size,
      ],
    });
    const rowId = inserted.rows[0]?.id;
    if (rowId === undefined) {
      await q.query({ text: addDuplicateKeySql, values: [messageId, entry.key] });
      const stored = await q.query<{ maildir_key: string }>({ text: storedKeySql, values: [messageId] });
      return { ...base, status: 'duplicate' as const, duplicate_of: stored.rows[0]?.maildir_key ?? null };
    }
    if (failure) {
      const id = await logMessage(q, logSubject, options.jobId, performance.now() - started, { ...failure, sha256: read.sha256 });
      return { ...base, status: 'failed' as const, error_class: failure.errorClass, error: failure.error, ingestion_log_id: id };
    }
    const { agent, address } = addressee!;
    const episode = await q.query<{ id: string }>({
      text: insertEpisodeSql,
      values: [
        agent.id,
        parsed!.date,
        episodeContent(parsed!, settings.maxBodyChars),
        JSON.stringify(episodeContext(parsed!, entry.key, address, settings.maxBodyChars)),
      ],
    });
    const episodeId = Number(episode.rows[0]!.id);
    await q.query({ text: setEpisodeSql, values: [rowId, episodeId] });
    const id = await logMessage(q, logSubject, options.jobId, performance.now() - started, { rows: 1, sha256: read.sha256 });
    return { ...base, status: 'stored' as const, agent: agent.name, agent_id: agent.id, episode_id: episodeId, ingestion_log_id: id };
  });
}

function blank(key: string, file: string): MessageOutcome {
  return {
    key,
    file,
    status: 'failed',
    message_id: null,
    from: null,
    subject: null,
    agent: null,
    agent_id: null,
    episode_id: null,
    duplicate_of: null,
    error_class: null,
    error: null,
    ingestion_log_id: null,
  };
}

function formatFrom(from: { name: string; address: string }): string {
  return from.name && from.name !== from.address ? `${from.name} <${from.address}>` : from.address || from.name;
}

function describeUnaddressed(email: ParsedEmail): string {
  const named = [
    ['Delivered-To', email.delivered_to],
    ['To', email.to],
    ['Cc', email.cc],
  ] as const;
  const listed = named.filter(([, list]) => list.length > 0).map(([header, list]) => `${header} ${list.join(', ')}`);
  if (listed.length === 0) return 'addressed to no agent: the message has no To, Cc or Delivered-To address';
  return storableText(
    `addressed to no agent: ${listed.join('; ')} (an address names an agent by its name, like report-writer@… or agents+report-writer@…)`,
    1000,
  );
}

/** "Email from … — subject", the attachments, then the body, cut at maxBodyChars. */
function episodeContent(email: ParsedEmail, maxBodyChars: number): string {
  const from = email.from ? formatFrom(email.from) : 'an unknown sender';
  const lines = [`Email from ${from} — ${email.subject ?? '(no subject)'}`];
  if (email.attachments.length > 0) {
    lines.push(`Attachments: ${email.attachments.map((a) => `${a.filename ?? '(unnamed)'} (${a.mime_type}, ${a.size} bytes)`).join(', ')}`);
  }
  if (email.text !== '') {
    const cut = email.text.length > maxBodyChars;
    lines.push('', cut ? `${email.text.slice(0, maxBodyChars)}\n[… ${email.text.length - maxBodyChars} more characters]` : email.text);
  }
  return lines.join('\n');
}

function episodeContext(email: ParsedEmail, key: string, address: string, maxBodyChars: number) {
  return {
    source: 'email',
    message_id: email.message_id,
    maildir_key: key,
    from: email.from,
    to: email.to,
    cc: email.cc,
    delivered_to: email.delivered_to,
    addressed_as: address,
    subject: email.subject,
    date: email.date,
    body_from: email.text_from,
    body_truncated: email.text.length > maxBodyChars,
    attachments: email.attachments,
  };
}

function logMessage(
  q: Queryable,
  subject: string,
  jobId: number | undefined,
  elapsedMs: number,
  outcome: { rows?: number; error?: string; errorClass?: EmailErrorClass; sha256?: string },
): Promise<number> {
  return logIngestionAttempt(q, {
    source: 'email_ingest',
    targetTable: 'memory_episodic',
    subject,
    jobId,
    elapsedMs,
    rows: outcome.rows ?? 0,
    error: outcome.error,
    errorClass: outcome.errorClass,
    payloadSha256: outcome.sha256,
  });
}

/** sync_status of email_ingest: ok, or error when every message read in this pass failed. */
async function recordRun(pool: Queryable, run: EmailIngestRun, elapsedMs: number): Promise<void> {
  const failures = run.messages.filter((m) => m.status === 'failed').map((m) => `${m.key}: ${m.error_class}: ${m.error}`);
  const ok = run.messages.length === 0 || run.failed < run.messages.length;
  await recordSystemRun(pool, 'email_ingest', {
    ok,
    failures,
    result: {
      files: run.files,
      already_ingested: run.already_ingested,
      read: run.messages.length,
      stored: run.stored,
      duplicates: run.duplicates,
      failed: run.failed,
    },
    elapsedMs,
  });
}
