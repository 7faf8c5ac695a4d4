import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentDirectory, addressSlugs, slugify } from '../../src/email/addressing.js';
import { htmlToText, normaliseMessageId, parseEmail } from '../../src/email/parse.js';
import { defaultEmailSettings } from '../../src/email/settings.js';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { cesar, root } from '../helpers/cli.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/db.js';
import { runWorkerUntil } from '../helpers/queue.js';

const fixtures = path.join(root, 'test', 'fixtures', 'maildir');
const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'cesar-maildir-test-'));

/** A Maildir of its own for a test: the fixtures copied into a temporary folder (runs never move a file, but tests run in parallel). */
function maildirOf(name: string, files?: string[]): string {
  const dir = path.join(temp, name);
  if (files === undefined) fs.cpSync(fixtures, dir, { recursive: true });
  else {
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    for (const f of files) fs.copyFileSync(path.join(fixtures, f), path.join(dir, f));
  }
  return dir;
}

const keys = {
  seen: '1764583000.M099P4242Q1.cesar-test',
  multipart: '1764583200.M100P4242Q1.cesar-test',
  latin1: '1764583260.M101P4242Q1.cesar-test',
  garbage: '1764583320.M102P4242Q1.cesar-test',
  noHeaders: '1764583330.M107P4242Q1.cesar-test',
  secondCopy: '1764583380.M103P4242Q1.cesar-test',
  noMessageId: '1764583440.M104P4242Q1.cesar-test',
  nobody: '1764583500.M105P4242Q1.cesar-test',
  inTmp: '1764583600.M106P4242Q1.cesar-test',
};

/** What the tables hold, to compare before and after a run that must change nothing. */
async function snapshot(url: string) {
  return {
    messages: await sql(url, 'SELECT id, message_id, maildir_key, duplicate_keys, error_class, episode_id FROM email_messages ORDER BY id'),
    episodes: await sql(url, 'SELECT id, xmin::text AS version FROM memory_episodic ORDER BY id'),
    log: await sql(url, `SELECT id FROM ingestion_log WHERE source = 'email_ingest' ORDER BY id`),
  };
}

describe('cesar ingest email', () => {
  let db: TestDatabase;
  let maildir: string;
  let env: Record<string, string>;
  before(async () => {
    db = await createTestDatabase();
    maildir = maildirOf('main');
    env = { DATABASE_URL: db.url, CESAR_MAILDIR: maildir };
  });
  after(async () => {
    await db?.drop();
    fs.rmSync(temp, { recursive: true, force: true });
  });

  it('without CESAR_MAILDIR exits 78 with one line saying what to set; sync_status says not_configured', async () => {
    const r = await cesar(['ingest', 'email'], { DATABASE_URL: db.url });
    assert.equal(r.exitCode, 78, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^cesar: CESAR_MAILDIR is not set: set it to the Maildir folder/);
    const [status] = await sql(db.url, `SELECT status, note FROM sync_status WHERE system_name = 'email_ingest'`);
    assert.equal(status?.status, 'not_configured');
    assert.match(String(status?.note), /^CESAR_MAILDIR is not set/);
    const verify = JSON.parse((await cesar(['verify', '--json'], { DATABASE_URL: db.url })).stdout);
    const dataFlow = verify.checks.find((c: { name: string }) => c.name === 'DATA_FLOW');
    assert.equal(dataFlow.status, 'PASS', 'not configured is not a failure');
    assert.match(JSON.stringify(dataFlow), /email_ingest \(mailbox\): not configured: CESAR_MAILDIR is not set/);
  });

  it('reads new/ and cur/ (never tmp/): stores each message once for its agent, and exits 1 naming each failure', async () => {
    const r = await cesar(['ingest', 'email', '--json'], env);
    assert.equal(r.exitCode, 1, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.maildir, maildir);
    assert.deepEqual([out.files, out.already_ingested, out.stored, out.duplicates, out.failed], [8, 0, 4, 1, 3]);
    assert.deepEqual(
      out.messages.map((m: { key: string; status: string; agent: string | null; error_class: string | null }) => [
        m.key,
        m.status,
        m.agent,
        m.error_class,
      ]),
      [
        [keys.seen, 'stored', 'Dr_Melfi_Researcher', null],
        [keys.multipart, 'stored', 'Report Writer', null],
        [keys.latin1, 'stored', 'Carmela_Soprano_Analyst', null],
        [keys.garbage, 'failed', null, 'malformed'],
        [keys.noHeaders, 'failed', null, 'malformed'],
        [keys.secondCopy, 'duplicate', null, null],
        [keys.noMessageId, 'stored', 'Copywriter', null],
        [keys.nobody, 'failed', null, 'no_agent'],
      ],
    );
    assert.equal(out.messages.find((m: { key: string }) => m.key === keys.secondCopy).duplicate_of, keys.multipart);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 3, r.stderr);
    assert.match(lines[0]!, new RegExp(`^${keys.garbage}: malformed: not an email message: it has no header$`));
    assert.match(lines[1]!, new RegExp(`^${keys.noHeaders}: malformed: `));
    assert.match(
      lines[2]!,
      new RegExp(`^${keys.nobody}: no_agent: addressed to no agent: To subscriber@example.org; Cc nobody-here@cesar.local`),
    );

    const messages = await sql(
      db.url,
      `SELECT m.message_id, m.maildir_key, m.duplicate_keys, m.from_address, m.to_addresses, m.subject,
              to_char(m.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS sent_at, a.name AS agent,
              m.episode_id IS NOT NULL AS has_episode, m.error_class, m.size_bytes::int AS size, m.raw_sha256 ~ '^[0-9a-f]{64}$' AS hashed
         FROM email_messages m LEFT JOIN agents a ON a.id = m.agent_id ORDER BY m.maildir_key`,
    );
    assert.equal(messages.length, 7, 'one row per message: the second copy is only a duplicate key');
    assert.ok(messages.every((m) => m.hashed && m.size > 0));
    const byKey = new Map(messages.map((m) => [m.maildir_key, m]));
    assert.deepEqual(byKey.get(keys.multipart), {
      ...byKey.get(keys.multipart),
      message_id: 'Multi.Part-1@mail.example.com',
      duplicate_keys: [keys.secondCopy],
      from_address: 'anna@example.com',
      to_addresses: ['report-writer@cesar.local'],
      subject: 'Q4 numbers for the weekly report',
      sent_at: '2026-12-01T09:00',
      agent: 'Report Writer',
      has_episode: true,
      error_class: null,
    });
    assert.equal(byKey.get(keys.latin1)?.subject, 'Grüße aus Köln');
    assert.match(String(byKey.get(keys.noMessageId)?.message_id), /^sha256:[0-9a-f]{64}$/);
    for (const key of [keys.garbage, keys.noHeaders]) {
      assert.deepEqual(
        [byKey.get(key)?.error_class, byKey.get(key)?.agent, byKey.get(key)?.has_episode],
        ['malformed', null, false],
        `${key} is recorded as failed, so it is not read again`,
      );
      assert.match(String(byKey.get(key)?.message_id), /^sha256:[0-9a-f]{64}$/);
    }
    assert.deepEqual(
      [byKey.get(keys.nobody)?.message_id, byKey.get(keys.nobody)?.error_class],
      ['newsletter-2026-49@example.org', 'no_agent'],
    );
    assert.equal(byKey.has(keys.inTmp), false, 'tmp/ is never read');

    const episodes = await sql(
      db.url,
      `SELECT a.name AS agent, e.content, e.context, e.importance, to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS occurred_at
         FROM memory_episodic e JOIN agents a ON a.id = e.agent_id
        WHERE e.context->>'source' = 'email' ORDER BY e.id`,
    );
    assert.deepEqual(
      episodes.map((e) => e.agent),
      ['Dr_Melfi_Researcher', 'Report Writer', 'Carmela_Soprano_Analyst', 'Copywriter'],
    );
    const [melfi, report, carmela, copywriter] = episodes;
    assert.match(
      melfi!.content,
      /^Email from Lex Orchestrator <lex@cesar.local> — Please research the new earnings season\n\nDr Melfi, please/,
    );
    assert.match(melfi!.content, /Merci — Lex ✓$/, 'UTF-8 comes through');
    // multipart/alternative with an attachment: the text part, and the attachment described.
    assert.equal(
      report!.content,
      [
        'Email from Anna Analyst <anna@example.com> — Q4 numbers for the weekly report',
        'Attachments: q4-numbers.pdf (application/pdf, 101 bytes)',
        '',
        'Hi Report Writer,',
        '',
        'the Q4 numbers are attached. Revenue grew 12% over Q3.',
        '',
        'Anna',
      ].join('\n'),
    );
    assert.deepEqual(report!.context.attachments, [{ filename: 'q4-numbers.pdf', mime_type: 'application/pdf', size: 101 }]);
    assert.deepEqual(
      [report!.context.message_id, report!.context.subject, report!.context.addressed_as, report!.context.body_from],
      ['Multi.Part-1@mail.example.com', 'Q4 numbers for the weekly report', 'report-writer@cesar.local', 'text'],
    );
    assert.equal(report!.occurred_at, '2026-12-01T09:00', 'occurred_at is the Date header');
    assert.equal(report!.importance, 0.5);
    // windows-1252 and ISO-8859-1, quoted-printable: umlauts, ß, „quotes“, € and – come out right.
    assert.equal(
      carmela!.content,
      [
        'Email from Jürgen Müller <juergen@example.de> — Grüße aus Köln',
        '',
        'Liebe Carmela,',
        '',
        'schöne Grüße aus Köln! Die „Analyse“ kostet 5 € – äöüß inklusive.',
        '',
        'Jürgen',
      ].join('\n'),
    );
    assert.equal(carmela!.context.addressed_as, 'agents+carmela-soprano-analyst@cesar.local');
    // HTML only: made rough text, no tags, no style or script.
    assert.equal(
      copywriter!.content,
      [
        'Email from Marketing Team <marketing@example.com> — Slogan ideas for the launch',
        '',
        'Launch',
        '',
        'Hello Copywriter,',
        'we need three slogans:',
        '',
        '- short',
        '- bold & clear',
        '- no jargon',
        '',
        'Thanks — the team',
      ].join('\n'),
    );
    assert.equal(copywriter!.context.body_from, 'html');
    assert.equal(copywriter!.context.message_id, null);

    const log = await sql(
      db.url,
      `SELECT subject, status, rows_ingested, error_class, target_table, payload_sha256 ~ '^[0-9a-f]{64}$' AS hashed
         FROM ingestion_log WHERE source = 'email_ingest' ORDER BY id`,
    );
    assert.deepEqual(log, [
      {
        subject: 'research-request-7@cesar.local',
        status: 'succeeded',
        rows_ingested: 1,
        error_class: null,
        target_table: 'memory_episodic',
        hashed: true,
      },
      {
        subject: 'Multi.Part-1@mail.example.com',
        status: 'succeeded',
        rows_ingested: 1,
        error_class: null,
        target_table: 'memory_episodic',
        hashed: true,
      },
      {
        subject: 'latin1-42@example.de',
        status: 'succeeded',
        rows_ingested: 1,
        error_class: null,
        target_table: 'memory_episodic',
        hashed: true,
      },
      {
        subject: keys.garbage,
        status: 'failed',
        rows_ingested: 0,
        error_class: 'malformed',
        target_table: 'memory_episodic',
        hashed: true,
      },
      {
        subject: keys.noHeaders,
        status: 'failed',
        rows_ingested: 0,
        error_class: 'malformed',
        target_table: 'memory_episodic',
        hashed: true,
      },
      {
        subject: keys.noMessageId,
        status: 'succeeded',
        rows_ingested: 1,
        error_class: null,
        target_table: 'memory_episodic',
        hashed: true,
      },
      {
        subject: 'newsletter-2026-49@example.org',
        status: 'failed',
        rows_ingested: 0,
        error_class: 'no_agent',
        target_table: 'memory_episodic',
        hashed: true,
      },
    ]);
    await sql(db.url, 'REFRESH MATERIALIZED VIEW mv_ingestion_errors');
    const view = await sql(
      db.url,
      `SELECT source, error_class, errors::int, subjects::int FROM mv_ingestion_errors WHERE source = 'email_ingest' ORDER BY error_class`,
    );
    assert.deepEqual(view, [
      { source: 'email_ingest', error_class: 'malformed', errors: 2, subjects: 2 },
      { source: 'email_ingest', error_class: 'no_agent', errors: 1, subjects: 1 },
    ]);
    const [status] = await sql(db.url, `SELECT status, note, last_result, last_error FROM sync_status WHERE system_name = 'email_ingest'`);
    assert.equal(status?.status, 'ok', 'four of seven messages were stored');
    assert.equal(status?.note, null);
    assert.deepEqual(status?.last_result, { files: 8, already_ingested: 0, read: 8, stored: 4, duplicates: 1, failed: 3 });
    assert.match(String(status?.last_error), /no_agent/);
  });

  it('a second run reads nothing, changes nothing, logs nothing, and exits 0', async () => {
    const before = await snapshot(db.url);
    const again = await cesar(['ingest', 'email', '--json'], env);
    assert.equal(again.exitCode, 0, again.stderr);
    assert.equal(again.stderr, '');
    const out = JSON.parse(again.stdout);
    assert.deepEqual([out.files, out.already_ingested, out.messages.length], [8, 8, 0]);
    assert.deepEqual(await snapshot(db.url), before);
    const text = await cesar(['ingest', 'email'], env);
    assert.equal(text.exitCode, 0, text.stderr);
    assert.match(text.stdout, /8 messages, 8 read before; now 0 stored, 0 duplicates, 0 failed/);
  });

  it('a message a mail client has moved to cur/ and flagged is the same message: not read again', async () => {
    const before = await snapshot(db.url);
    fs.renameSync(path.join(maildir, 'new', keys.multipart), path.join(maildir, 'cur', `${keys.multipart}:2,RS`));
    fs.renameSync(path.join(maildir, 'cur', `${keys.seen}:2,S`), path.join(maildir, 'cur', `${keys.seen}:2,ST`));
    const r = await cesar(['ingest', 'email', '--json'], env);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).messages, []);
    assert.deepEqual(await snapshot(db.url), before);
  });

  it('a Maildir that cannot be read exits 78 naming the path; sync_status says error and verify DATA_FLOW fails', async () => {
    const missing = path.join(temp, 'no-such-maildir');
    const r = await cesar(['ingest', 'email'], { ...env, CESAR_MAILDIR: missing });
    assert.equal(r.exitCode, 78, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.ok(r.stderr.includes(`the Maildir ${missing} cannot be read: no such folder`), r.stderr);
    const notMaildir = maildirOf('not-a-maildir', []);
    fs.rmSync(path.join(notMaildir, 'cur'), { recursive: true });
    const half = await cesar(['ingest', 'email'], { ...env, CESAR_MAILDIR: notMaildir });
    assert.equal(half.exitCode, 78, half.stderr);
    assert.ok(half.stderr.includes(`the Maildir ${notMaildir} cannot be read: cur/: no such folder`), half.stderr);
    const [status] = await sql(db.url, `SELECT status, last_error FROM sync_status WHERE system_name = 'email_ingest'`);
    assert.equal(status?.status, 'error');
    assert.ok(String(status?.last_error).includes(notMaildir));
    const verify = await cesar(['verify', '--json'], { DATABASE_URL: db.url });
    const dataFlow = JSON.parse(verify.stdout).checks.find((c: { name: string }) => c.name === 'DATA_FLOW');
    assert.equal(dataFlow.status, 'FAIL');
    assert.ok(
      dataFlow.problems.some((p: string) => p.startsWith('email ingestion failed: the Maildir')),
      JSON.stringify(dataFlow.problems),
    );
  });

  it('a run in which every message fails sets sync_status to error', async () => {
    const other = await createTestDatabase();
    try {
      const dir = maildirOf('all-bad', [`new/${keys.garbage}`, `new/${keys.nobody}`]);
      const r = await cesar(['ingest', 'email'], { DATABASE_URL: other.url, CESAR_MAILDIR: dir });
      assert.equal(r.exitCode, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 2, r.stderr);
      const [status] = await sql(other.url, `SELECT status, last_error FROM sync_status WHERE system_name = 'email_ingest'`);
      assert.equal(status?.status, 'error');
      assert.match(String(status?.last_error), new RegExp(`${keys.garbage}: malformed: .*; ${keys.nobody}: no_agent: `));
    } finally {
      await other.drop();
    }
  });

  it('the email_ingest job type runs a pass through a real worker (cesar enqueue email_ingest); its payload is {} only', async () => {
    const dir = maildirOf('job', []);
    fs.copyFileSync(path.join(fixtures, 'tmp', keys.inTmp), path.join(dir, 'new', keys.inTmp));
    const refused = await cesar(['enqueue', 'email_ingest', '--payload', '{"folder": "/etc"}'], { DATABASE_URL: db.url });
    assert.equal(refused.exitCode, 65, refused.stderr);
    const enq = await cesar(['enqueue', 'email_ingest', '--json'], { DATABASE_URL: db.url });
    assert.equal(enq.exitCode, 0, enq.stderr);
    const jobId = JSON.parse(enq.stdout).id;
    const jobStatus = async () => (await sql(db.url, 'SELECT status FROM job_queue WHERE id = $1', [jobId]))[0]?.status;
    await runWorkerUntil(
      db.url,
      builtInJobTypes({ email: { ...defaultEmailSettings, maildir: dir } }),
      'the email_ingest job to end',
      async () => ['completed', 'failed'].includes(await jobStatus()),
    );
    assert.equal(await jobStatus(), 'completed');
    const [logged] = await sql(
      db.url,
      `SELECT l.status, l.job_id::int AS job_id, a.name AS agent, e.content
         FROM ingestion_log l
         JOIN email_messages m ON m.message_id = l.subject
         JOIN memory_episodic e ON e.id = m.episode_id
         JOIN agents a ON a.id = e.agent_id
        WHERE l.subject = 'still-in-tmp@example.com'`,
    );
    assert.deepEqual(logged, {
      status: 'succeeded',
      job_id: Number(jobId),
      agent: 'Report Writer',
      content: 'Email from someone@example.com — half-delivered\n\nThis file is in tmp/ and must never be read.',
    });
    const [status] = await sql(db.url, `SELECT status, last_result FROM sync_status WHERE system_name = 'email_ingest'`);
    assert.equal(status?.status, 'ok');
    assert.deepEqual(status?.last_result, { files: 1, already_ingested: 0, read: 1, stored: 1, duplicates: 0, failed: 0 });
  });

  it('without CESAR_MAILDIR the job completes having done nothing, and sync_status says not_configured', async () => {
    const enq = await cesar(['enqueue', 'email_ingest', '--json'], { DATABASE_URL: db.url });
    const jobId = JSON.parse(enq.stdout).id;
    const jobStatus = async () => (await sql(db.url, 'SELECT status FROM job_queue WHERE id = $1', [jobId]))[0]?.status;
    await runWorkerUntil(db.url, builtInJobTypes(), 'the email_ingest job to end', async () =>
      ['completed', 'failed'].includes(await jobStatus()),
    );
    assert.equal(await jobStatus(), 'completed');
    const [status] = await sql(db.url, `SELECT status, note FROM sync_status WHERE system_name = 'email_ingest'`);
    assert.equal(status?.status, 'not_configured');
  });
});

describe('which agent a message is addressed to, and what the parser gives', () => {
  it('slugifies names and addresses alike: local part, or the +tag first', () => {
    assert.equal(slugify('Report Writer'), 'report-writer');
    assert.equal(slugify('Carmela_Soprano_Analyst'), 'carmela-soprano-analyst');
    assert.equal(slugify('  LLM Cache  Manager! '), 'llm-cache-manager');
    assert.equal(slugify('Jürgen Café'), 'jurgen-cafe');
    assert.deepEqual(addressSlugs('agents+Report_Writer@x.org'), ['report-writer', 'agents']);
    assert.deepEqual(addressSlugs('Dr.Melfi.Researcher@x.org'), ['dr-melfi-researcher']);
    const directory = new AgentDirectory([
      { id: 2, name: 'Report Writer' },
      { id: 1, name: 'report_writer' },
      { id: 3, name: 'Copywriter' },
    ]);
    const to = (delivered: string[], toList: string[], cc: string[] = []) =>
      directory.addressee({ delivered_to: delivered, to: toList, cc })?.agent.id;
    assert.equal(to([], ['report-writer@a.b']), 1, 'two names with one slug: the older agent');
    assert.equal(to(['copywriter@a.b'], ['report-writer@a.b']), 3, 'Delivered-To first');
    assert.equal(
      to(['agents@a.b'], ['someone@a.b'], ['copywriter+urgent@a.b']),
      3,
      'then To, then Cc; the tag names no agent, the local part does',
    );
    assert.equal(to([], ['someone@a.b']), undefined);
  });

  it('normalises Message-IDs: no brackets, the domain in lower case', () => {
    assert.equal(normaliseMessageId('<Abc.123@Mail.Example.COM>'), 'Abc.123@mail.example.com');
    assert.equal(normaliseMessageId('  <a@b> (comment) <c@d>'), 'a@b');
    assert.equal(normaliseMessageId('no-brackets@Host'), 'no-brackets@host');
    assert.equal(normaliseMessageId('<>'), null);
    assert.equal(normaliseMessageId(undefined), null);
  });

  it('makes HTML rough text', () => {
    assert.equal(htmlToText('<p>a&nbsp;&amp;&#x20AC;&#8364;</p><!-- x --><br/>b<script>c</script>'), 'a &€€\n\nb');
  });

  it('decodes windows-1252 quotes and € (not C1 controls), keeps UTF-8 as it is, and refuses what has no header', async () => {
    const latin = Buffer.concat([
      Buffer.from(
        'From: a@b.c\nSubject: =?windows-1252?Q?=93Hi=94?=\nContent-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: 8bit\n\n',
      ),
      Buffer.from([0x84, 0x41, 0x93, 0x20, 0x80, 0x20, 0xe4, 0xdf, 0x0a]),
    ]);
    const parsed = await parseEmail(latin);
    assert.equal(parsed.text, '„A“ € äß');
    assert.equal(parsed.subject, '“Hi”');
    const utf8 = await parseEmail(Buffer.from('From: a@b.c\nContent-Type: text/plain; charset=utf-8\n\nGrüße \u0093x\n'));
    assert.equal(utf8.text, 'Grüße \u0093x', 'a UTF-8 message is left alone');
    await assert.rejects(parseEmail(Buffer.alloc(0)), /the file is empty/);
    await assert.rejects(parseEmail(Buffer.from('hello\nworld\n')), /it has no header/);
  });
});
