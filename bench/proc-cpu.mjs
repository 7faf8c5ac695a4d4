// CPU time read from /proc (Linux), for the benchmarks: a process's, and the local PostgreSQL's.
import fs from 'node:fs';

const tickMs = 1000 / 100; // USER_HZ is 100 on Linux

/** The fields of /proc/<pid>/stat after the command name (utime is [11], stime [12], cutime [13], cstime [14]). */
function statFields(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const close = stat.lastIndexOf(')');
  return { name: stat.slice(stat.indexOf('(') + 1, close), fields: stat.slice(close + 2).split(' ') };
}

/** CPU time (user + system, ms) of one process; null if unknown. */
export function processCpuMs(pid) {
  try {
    const { fields } = statFields(pid);
    return (Number(fields[11]) + Number(fields[12])) * tickMs;
  } catch {
    return null;
  }
}

/**
 * CPU time (user + system, ms) of all processes named postgres on this machine; null if unknown.
 * withReaped: add the postmaster's children's times (cutime, cstime), where the CPU of backends
 * that exited goes when they are reaped; needed when connections open and close during a window
 * (the live processes alone would lose theirs).
 */
export function localServerCpuMs({ withReaped = false } = {}) {
  let entries;
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return null;
  }
  let total = 0;
  let found = false;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = statFields(entry);
    } catch {
      continue;
    }
    if (stat.name !== 'postgres') continue;
    const f = stat.fields.map(Number);
    total += (f[11] + f[12] + (withReaped ? f[13] + f[14] : 0)) * tickMs;
    found = true;
  }
  return found ? total : null;
}
