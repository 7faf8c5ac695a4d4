import fs from 'node:fs';
import path from 'node:path';

/** The file `cesar start` keeps in CESAR_HOME while it runs: its pid and where its parts listen. */
export function startFile(home: string): string {
  return path.join(home, 'start.json');
}

export interface StartInfo {
  pid: number;
  started_at: string;
  api_url?: string;
  dashboard_url?: string;
}

export function readStartInfo(home: string): StartInfo | undefined {
  try {
    return JSON.parse(fs.readFileSync(startFile(home), 'utf8')) as StartInfo;
  } catch {
    return undefined;
  }
}

export function writeStartInfo(home: string, info: StartInfo): void {
  const file = startFile(home);
  fs.writeFileSync(`${file}.tmp`, `${JSON.stringify(info)}\n`, { mode: 0o644 });
  fs.renameSync(`${file}.tmp`, file);
}
