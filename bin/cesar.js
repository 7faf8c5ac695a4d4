#!/usr/bin/env node
// The cesar command: runs the compiled CLI in dist/ (built by `npm ci` / `npm run build`), so cron
// pays no TypeScript compile on each call.
let main;
try {
  ({ main } = await import('../dist/main.js'));
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/main.js')) {
    process.stderr.write('cesar: the CLI is not built (no dist/main.js) (next: run `npm ci` or `npm run build` in the cesar folder)\n');
    process.exit(70);
  }
  throw err;
}
process.exitCode = await main(process.argv);
