import { ingestMaildir } from '../email/ingest.js';
import { escapeControl } from '../text.js';
import { type CliContext, withDatabase } from './context.js';
import { dim, printJson, renderTable } from './output.js';

/**
 * `cesar ingest email`: one pass over the Maildir (CESAR_MAILDIR). Exit 0 when every message read
 * was stored (or was a duplicate) or none was new; 1 with one line per failed message on stderr
 * (each is in the ingestion log, and is not read again); 78 when CESAR_MAILDIR is not set or the
 * Maildir cannot be read.
 */
export async function runIngestEmail(ctx: CliContext, options: { json?: boolean }): Promise<number> {
  return withDatabase(ctx, async (handle) => {
    const run = await ingestMaildir(handle.pool, ctx.config.email, { log: ctx.log });
    if (options.json) printJson(ctx.out, run);
    else {
      ctx.out(
        `Maildir ${run.maildir}: ${run.files} messages, ${run.already_ingested} read before; ` +
          `now ${run.stored} stored, ${run.duplicates} duplicate${run.duplicates === 1 ? '' : 's'}, ${run.failed} failed.`,
      );
      if (run.messages.length > 0) {
        ctx.out(
          renderTable(
            ['File', 'Outcome', 'Agent', 'From', 'Subject'],
            run.messages.map((m) => [
              m.key,
              m.status === 'duplicate'
                ? `duplicate of ${m.duplicate_of ?? '?'}`
                : m.status === 'failed'
                  ? `failed: ${m.error_class}`
                  : m.status,
              m.agent ?? '-',
              clip(m.from),
              clip(m.subject),
            ]),
          ),
        );
      }
      if (run.failed === 0) ctx.out(dim('Every message read is in the ingestion log (cesar ingest status).'));
    }
    for (const m of run.messages.filter((x) => x.status === 'failed')) {
      process.stderr.write(`${escapeControl(`${m.key}: ${m.error_class}: ${m.error}`)}\n`);
    }
    return run.failed > 0 ? 1 : 0;
  });
}

function clip(text: string | null): string {
  if (text === null) return '-';
  const flat = escapeControl(text);
  return flat.length > 50 ? `${flat.slice(0, 49)}…` : flat;
}
