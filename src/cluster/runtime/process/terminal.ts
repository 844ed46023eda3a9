// Pseudo-terminals without a native module: script(1) from util-linux allocates the terminal and runs the
// command on it, copying between the terminal and its own stdin/stdout pipes; the size is changed from
// outside with stty(1) on the terminal, reached through /proc.

import { execFile } from "node:child_process";
import type { TerminalSize } from "../cri.ts";
import type { HostTools } from "./host-capabilities.ts";
import { shellQuote } from "./launch-scripts.ts";
import { findTerminalDescendant } from "./process-tree.ts";

export const DEFAULT_TERMINAL_SIZE: TerminalSize = { cols: 80, rows: 24 };

/** The command line that runs `command` on a new pseudo-terminal of the given size. */
export function onPseudoTerminal(tools: HostTools, command: string[], size: TerminalSize): string[] {
  // The size is set from inside, before the command starts, so its first screen is drawn right.
  const inner = `stty cols ${size.cols} rows ${size.rows} 2>/dev/null; exec ${command.map(shellQuote).join(" ")}`;
  return [tools.script ?? "script", "--quiet", "--return", "--echo", "always", "--command", inner, "/dev/null"];
}

/** Resizes the terminal of the process tree below `pid` (the kernel then sends SIGWINCH to its users). */
export async function resizeTerminal(tools: HostTools, pid: number, size: TerminalSize): Promise<void> {
  const terminalUser = findTerminalDescendant(pid);
  if (terminalUser === undefined || !tools.stty) return;
  // Opening the terminal through /proc works from outside the container's mount namespace and root.
  await new Promise<void>((done) =>
    execFile(tools.stty as string, ["-F", `/proc/${terminalUser}/fd/0`, "cols", String(size.cols), "rows", String(size.rows)], () => done()),
  );
}
