import { createHash } from 'node:crypto';
import { createReadStream, type Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ConfigError } from '../errors.js';

/**
 * A Maildir folder (https://cr.yp.to/proto/maildir.html), read only: delivered messages are files in
 * new/ and cur/; tmp/ holds deliveries still being written and is never read. A file's unique name is
 * the part before ':' (what follows is the reader's flags, `:2,S`), so a message moved from new/ to
 * cur/ or flagged keeps its key. Names starting with '.' are not messages. Nothing here moves,
 * renames or deletes a file: the Maildir stays the mail client's.
 */

export const maildirFolders = ['new', 'cur'] as const;

export interface MaildirEntry {
  /** The unique name: the file name up to its ':'. */
  key: string;
  /** new/NAME or cur/NAME, relative to the Maildir. */
  file: string;
}

/** The maildir key of a file name: the part before ':'. */
export function maildirKey(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

/** What went wrong reading the Maildir itself, in words (the operator line names the path). */
function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such folder';
    case 'ENOTDIR':
      return 'not a folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return (err as Error).message;
  }
}

/** The error of a Maildir that cannot be read: it names the path and what to check. */
export class MaildirError extends ConfigError {
  constructor(message: string) {
    super(message, 'check CESAR_MAILDIR: the Maildir folder with new/ and cur/ (see "Email ingestion" in the README)');
  }
}

/**
 * Every message file of new/ and cur/, each key once (a file seen in both while a client moves it is
 * listed once, from cur/), in key order: Maildir names start with the delivery time, so oldest first.
 * Throws MaildirError when the folder, new/ or cur/ cannot be read.
 */
export async function listMaildir(dir: string): Promise<MaildirEntry[]> {
  const byKey = new Map<string, MaildirEntry>();
  for (const folder of ['cur', 'new'] as const) {
    const full = path.join(dir, folder);
    let names: Dirent[];
    try {
      names = await fs.readdir(full, { withFileTypes: true });
    } catch (err) {
      // The Maildir itself first: "no such folder" of the Maildir says more than of its cur/.
      const top = await fs.stat(dir).then(
        (s) => (s.isDirectory() ? undefined : 'not a folder'),
        (e: unknown) => describeFsError(e),
      );
      if (top) throw new MaildirError(`the Maildir ${dir} cannot be read: ${top}`);
      throw new MaildirError(`the Maildir ${dir} cannot be read: ${folder}/: ${describeFsError(err)}`);
    }
    for (const entry of names) {
      if (entry.name.startsWith('.') || !(entry.isFile() || entry.isSymbolicLink())) continue;
      const key = maildirKey(entry.name);
      if (key === '' || byKey.has(key)) continue;
      byKey.set(key, { key, file: `${folder}/${entry.name}` });
    }
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A message file's bytes, or undefined when it went away. A client may move or re-flag it between the listing and now: then it is looked up again by its key. */
export async function readMessage(dir: string, entry: MaildirEntry, maxBytes: number): Promise<ReadMessage | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const file = attempt === 0 ? entry.file : await findByKey(dir, entry.key);
    if (file === undefined) return undefined;
    try {
      const full = path.join(dir, file);
      const stat = await fs.stat(full);
      if (stat.size > maxBytes) {
        const hash = createHash('sha256');
        await pipeline(createReadStream(full), hash);
        return { file, size: stat.size, raw: undefined, sha256: hash.digest('hex') };
      }
      const raw = await fs.readFile(full);
      return { file, size: raw.length, raw, sha256: createHash('sha256').update(raw).digest('hex') };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return undefined;
}

export interface ReadMessage {
  /** Where it was read from (new/NAME or cur/NAME). */
  file: string;
  size: number;
  /** Undefined when the file is larger than the limit (hashed, not kept). */
  raw: Buffer | undefined;
  /** Hex sha256 of the file's bytes. */
  sha256: string;
}

async function findByKey(dir: string, key: string): Promise<string | undefined> {
  for (const folder of ['cur', 'new'] as const) {
    const names = await fs.readdir(path.join(dir, folder)).catch(() => [] as string[]);
    const name = names.find((n) => maildirKey(n) === key && !n.startsWith('.'));
    if (name !== undefined) return `${folder}/${name}`;
  }
  return undefined;
}
