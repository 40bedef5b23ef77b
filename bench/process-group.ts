/**
 * What a server's process group (wrangler and its workerd children, or a Node server) uses,
 * read from /proc (Linux): the benches' measure of server CPU and memory.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const getconf = (name: string, fallback: number): number => {
  try {
    return Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim()) || fallback;
  } catch {
    return fallback;
  }
};
const CLK_TCK = getconf('CLK_TCK', 100);
const PAGE = getconf('PAGESIZE', 4096);

/**
 * User + system CPU (ms) and resident memory (bytes) of every process in group `pgid`, and how
 * many there are; NaN figures where /proc is missing.
 */
export function groupUsage(pgid: number): { cpuMs: number; rss: number; procs: number } {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return { cpuMs: NaN, rss: NaN, procs: 0 };
  }
  let ticks = 0;
  let pages = 0;
  let procs = 0;
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let stat: string;
    let statm: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      statm = readFileSync(`/proc/${e}/statm`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[2]) !== pgid) continue;
    ticks += Number(f[11]) + Number(f[12]);
    pages += Number(statm.split(' ')[1]);
    procs++;
  }
  return { cpuMs: (ticks * 1000) / CLK_TCK, rss: pages * PAGE, procs };
}
