#!/usr/bin/env node
// The cesar command: runs the CLI bundled into dist/cli-bundle/ (built by `npm ci` / `npm run build`),
// so that cron pays neither a TypeScript compile nor the resolution of a hundred module files on each call.
let main;
try {
  ({ main } = await import('../dist/cli-bundle/main.js'));
} catch (err) {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('cli-bundle/main.js')) {
    process.stderr.write(
      'cesar: the CLI is not built (no dist/cli-bundle/main.js) (next: run `npm ci` or `npm run build` in the cesar folder)\n',
    );
    process.exit(70);
  }
  throw err;
}
process.exitCode = await main(process.argv);
