import * as v from 'valibot';
import type { EmailSettings } from '../email/settings.js';
import { defineJobType } from '../queue/job-types.js';

const payload = v.strictObject({});

export type EmailIngestPayload = v.InferOutput<typeof payload>;

/**
 * email_ingest: one pass over the Maildir (CESAR_MAILDIR), as `cesar ingest email` does, for cron or
 * the scheduler (`cesar enqueue email_ingest`). The settings are the worker's, bound when it builds
 * its job types. Without CESAR_MAILDIR the job completes having done nothing, and sync_status says
 * not_configured; a Maildir that cannot be read fails the attempt (the queue's retries apply).
 */
export function emailIngestJobType(settings: EmailSettings) {
  return defineJobType({
    name: 'email_ingest',
    description: 'reads new messages from the Maildir (CESAR_MAILDIR) into the episodic memory of the agent each is addressed to',
    payload,
    timeoutMs: 30 * 60_000,
    maxAttempts: 3,
    handler: async () => {
      const { runEmailIngest } = await import('./email.handler.js');
      return { default: (ctx) => runEmailIngest(ctx, settings) };
    },
  });
}
