import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { mergeFeeds, postgresFeed, tickFeed } from '../../src/dashboard/changes.js';
import { builtInJobTypes } from '../../src/jobs/index.js';
import { silentLogger } from '../../src/log.js';
import { enqueue } from '../../src/queue/enqueue.js';
import { builtInStepHandlers } from '../../src/steps/index.js';
import { runNow } from '../../src/workflows/admin.js';
import { root } from '../helpers/cli.js';
import { makeTemplatesRunnable, sql, useTestDatabase } from '../helpers/db.js';
import { startDashboard, type TestDashboard } from './helpers.js';

/** Debian's chromium (apt install chromium); the test is skipped, saying why, where it is missing. */
const chromiumPath = '/usr/bin/chromium';
const artifacts = path.join(root, 'test-artifacts', 'dashboard');
const token = 'browser-test-token-0123456789';

describe('the dashboard in a browser (playwright-core driving chromium)', () => {
  const database = useTestDatabase();
  const missing = fs.existsSync(chromiumPath) ? undefined : `${chromiumPath} is not installed (apt-get install chromium)`;
  let dashboard: TestDashboard;
  let browser: Browser;
  let page: Page;
  /** Console errors and CSP violations: the page must have none. */
  const problems: string[] = [];

  before(async () => {
    if (missing) return;
    fs.mkdirSync(artifacts, { recursive: true });
    dashboard = await startDashboard(database.handle, {
      token,
      changes: mergeFeeds(postgresFeed(database.url, silentLogger), tickFeed(2_000)),
    });
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    page.on('pageerror', (err) => problems.push(err.message));
  });
  after(async () => {
    await browser?.close();
    await dashboard?.close();
  });

  const screenshot = (name: string) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
  const heading = (name: string) => page.getByRole('heading', { level: 1, name }).waitFor();
  const count = (key: string) => page.locator(`[data-count="${key}"]`).textContent();

  /** Something to show on each page: an hour of throughput, a manual run of a workflow, agent events. */
  async function seed() {
    await sql(
      database.url,
      `INSERT INTO job_throughput (minute, queue, job_type, outcome, jobs)
       SELECT date_trunc('minute', now()) - make_interval(mins => m), 'default', 'canary', o.outcome,
              CASE o.outcome WHEN 'completed' THEN 40 + (m * 7) % 25 WHEN 'retried' THEN m % 4 ELSE (m % 9 = 0)::int END
         FROM generate_series(0, 59) m, (VALUES ('completed'), ('retried'), ('failed')) o(outcome)`,
    );
    await makeTemplatesRunnable(database.url);
    await runNow(database.handle.pool, builtInStepHandlers(), 'supabase_sync');
    await sql(
      database.url,
      `INSERT INTO agent_events (agent_id, event_type, payload)
       SELECT id, 'step.succeeded', jsonb_build_object('step', 'pull_remote_changes', 'duration_ms', 120) FROM agents LIMIT 5`,
    );
  }

  it('shows every area, and the overview moves without a reload when jobs are enqueued', async (t) => {
    if (missing) return t.skip(missing);
    await seed();
    await page.goto(`${dashboard.baseUrl}/`);
    await heading('Overview');
    await page.waitForFunction(() => /^\d/.test(document.querySelector('[data-count="pending"]')?.textContent ?? ''));
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await page.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const pending = Number(await count('pending'));

    const registry = builtInJobTypes();
    for (let i = 0; i < 3; i++) await enqueue(database.handle.pool, { type: 'canary' }, registry);
    await page.waitForFunction(
      (expected) => document.querySelector('[data-count="pending"]')?.textContent === String(expected),
      pending + 3,
      { timeout: 3_000 },
    );
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'no reload');
    await page.getByRole('table', { name: 'Agents' }).waitFor();
    await screenshot('overview');

    await page.getByRole('link', { name: 'Jobs', exact: true }).click();
    await heading('Jobs');
    await page.getByRole('table', { name: 'Jobs' }).getByRole('cell', { name: 'canary' }).first().waitFor();
    await screenshot('jobs');

    await page.getByRole('link', { name: 'Schedules and workflows' }).click();
    await heading('Schedules and workflows');
    await page.getByRole('table', { name: 'Templates' }).getByText('supabase_sync').waitFor();
    await screenshot('workflows');

    await page.getByRole('link', { name: 'Agents', exact: true }).click();
    await heading('Agents');
    await page.getByRole('table', { name: 'Agents by type and status' }).waitFor();
    await screenshot('agents');
    assert.equal(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true, 'no reload');
  });

  it('refuses a wrong token, and says so', async (t) => {
    if (missing) return t.skip(missing);
    await page.getByLabel('API token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in to act' }).click();
    await page.getByRole('alert').filter({ hasText: 'Sign-in refused' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
  });

  it('signed in with the token, retries a failed job from the jobs page', async (t) => {
    if (missing) return t.skip(missing);
    const rows = await sql<{ id: string }>(
      database.url,
      `INSERT INTO job_queue (job_type, status, attempts, max_attempts, finished_at, last_error)
       VALUES ('canary', 'failed', 5, 5, now(), 'canary failed on purpose') RETURNING id`,
    );
    const id = Number(rows[0]!.id);
    assert.equal(await page.getByRole('button', { name: `Retry job ${id}` }).count(), 0, 'no actions before signing in');

    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in to act' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();

    await page.goto(`${dashboard.baseUrl}/#/jobs?state=failed`);
    await heading('Jobs');
    await page.getByRole('button', { name: `Retry job ${id}` }).click();
    await page.getByText(`Retry job ${id}: done.`).waitFor();
    const job = await sql(database.url, 'SELECT status FROM job_queue WHERE id = $1', [id]);
    assert.equal(job[0]!.status, 'pending');
    const recorded = await sql(database.url, 'SELECT action, target, actor, ok FROM dashboard_actions');
    assert.deepEqual(
      recorded.map((r) => [r.action, r.target, r.ok]),
      [['job.retry', `job ${id}`, true]],
    );
    assert.match(String(recorded[0]!.actor), /^dashboard session [0-9a-f]{8}$/);
    await page.goto(`${dashboard.baseUrl}/#/jobs/${id}`);
    await heading(`Job ${id}`);
    await screenshot('job');
  });

  it('fits a phone: nothing wider than the screen but the tables, which scroll', async (t) => {
    if (missing) return t.skip(missing);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${dashboard.baseUrl}/#/overview`);
    await heading('Overview');
    await page.getByRole('table', { name: 'Agents' }).waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the screen`);
    await screenshot('overview-phone');
  });

  it('logged no error and no Content-Security-Policy violation', (t) => {
    if (missing) return t.skip(missing);
    // The wrong token's 401 is logged by the browser as a failed resource; nothing else may be.
    assert.deepEqual(
      problems.filter((p) => !/status of 401/.test(p)),
      [],
    );
  });
});
