import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of cesar's package.json, found by walking up from this module: the same answer from
 * dist/ (the library), dist/cli-bundle/ (the bundled CLI) and src/ (tests).
 */
export const packageRoot: string = findRoot(path.dirname(fileURLToPath(import.meta.url)));

export const packageVersion: string = (JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string })
  .version;

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === 'cesar') return dir;
    if (path.dirname(dir) === dir) throw new Error(`cesar's package.json not found above ${start}`);
  }
}
