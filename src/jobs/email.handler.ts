import { ingestMaildir, maildirNotConfiguredNote, markEmailNotConfigured, type Pool } from '../email/ingest.js';
import type { EmailSettings } from '../email/settings.js';
import type { JobContext } from '../queue/job-types.js';
import type { EmailIngestPayload } from './email.js';

export async function runEmailIngest(ctx: JobContext<EmailIngestPayload>, settings: EmailSettings): Promise<unknown> {
  if (settings.maildir === undefined) {
    await markEmailNotConfigured(ctx.pool);
    ctx.log.warn(`email_ingest did nothing: ${maildirNotConfiguredNote}`);
    return { not_configured: maildirNotConfiguredNote };
  }
  const pool = ctx.pool as unknown as Pool;
  const run = await ingestMaildir(pool, settings, { jobId: ctx.jobId, signal: ctx.signal, log: ctx.log });
  for (const m of run.messages.filter((x) => x.status === 'failed')) {
    ctx.log.warn(`email_ingest: ${m.key}: ${m.error_class}: ${m.error}`);
  }
  const { messages: _messages, ...summary } = run;
  return summary;
}
