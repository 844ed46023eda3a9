// Reading and signalling process trees through /proc, for the processes the runtime does not spawn
// directly (nsenter's child, script's child) and for killing whole process groups.

import { readFileSync, readlinkSync } from "node:fs";

/** Direct children of a process (Linux /proc/<pid>/task/<tid>/children, summed over its threads). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; it is dead for our purposes.
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Signals a whole process group; missing groups are fine (everything already exited). */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nobody left.
  }
}

/** Whether any process is left in a process group. */
export function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone.
  }
}

/** The first process at or below `pid` whose stdin is a pseudo-terminal (the shell script(1) started). */
export function findTerminalDescendant(pid: number): number | undefined {
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift() as number;
    try {
      // Seen from outside the container's chroot the link reads "<its root>/dev/pts/N".
      if (/\/dev\/pts\/\d+$/.test(readlinkSync(`/proc/${current}/fd/0`))) return current;
    } catch {
      // Exited or not ours to read.
    }
    queue.push(...childrenOf(current));
  }
  return undefined;
}
