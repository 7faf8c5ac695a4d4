import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { packageRoot } from '../package-info.js';

/**
 * The dashboard's static files, read once at start-up and served from memory: the page, its
 * scripts and styles (src/dashboard/public/, shipped as they are: no build step), and uPlot from
 * node_modules. Only files found here are served, so no request path ever reaches the file system.
 */

export interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Where the page's files are: found from cesar's package root (the same from dist/, the CLI bundle and src/). */
export const defaultPublicDir = path.join(packageRoot, 'src', 'dashboard', 'public');

function asset(file: string): Asset {
  const body = fs.readFileSync(file);
  const contentType = contentTypes[path.extname(file)] ?? 'application/octet-stream';
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** The files of the public folder, by name (the folder is flat). */
export function loadPublicAssets(dir = defaultPublicDir): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && contentTypes[path.extname(entry.name)]) assets.set(entry.name, asset(path.join(dir, entry.name)));
  }
  if (!assets.has('index.html')) throw new Error(`the dashboard's page is missing: no index.html in ${dir}`);
  return assets;
}

/** uPlot's ES module and style sheet, as the page imports them (/vendor/uplot.esm.js, /vendor/uplot.min.css). */
export function loadVendorAssets(): Map<string, Asset> {
  const requireFrom = createRequire(import.meta.url);
  return new Map([
    ['uplot.esm.js', asset(requireFrom.resolve('uplot/dist/uPlot.esm.js'))],
    ['uplot.min.css', asset(requireFrom.resolve('uplot/dist/uPlot.min.css'))],
  ]);
}
