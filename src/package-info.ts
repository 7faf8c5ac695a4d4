import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of cesar's package.json, found by walking up from this module: the same answer from
 * dist/ (the library), dist/cli-bundle/ (the bundled CLI) and src/ (tests).
 */
const found = findRoot(path.dirname(fileURLToPath(import.meta.url)));

export const packageRoot: string = found.dir;
export const packageVersion: string = found.version;

function findRoot(start: string): { dir: string; version: string } {
  for (let dir = start; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version: string };
      if (json.name === 'cesar') return { dir, version: json.version };
    }
    if (path.dirname(dir) === dir) throw new Error(`cesar's package.json not found above ${start}`);
  }
}
