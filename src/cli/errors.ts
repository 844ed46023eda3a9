// How the CLI turns failures into messages and exit codes: bad input (config, flags, templates) is
// exit 2 with `file:line:column: message` and no stack trace; anything else is a bug and shows one.
import { CommanderError } from "commander";
import { TemplateError } from "../templates/errors.ts";

/** The controller URL agents connect to when neither the cloud nor a flag says otherwise. */
export const DEFAULT_CONTROLLER_URL = "http://127.0.0.1:8080/";

export class UsageError extends Error {}

export const EXIT_BAD_INPUT = 2;

/** The exit code for a failure and the line to print; `file:line:column:` errors start the line, as compilers do. */
export function exitCodeFor(error: unknown): { code: number; message?: string } {
  if (error instanceof TemplateError) return { code: EXIT_BAD_INPUT, message: error.format() };
  if (error instanceof UsageError) return { code: EXIT_BAD_INPUT, message: `berth: ${error.message}` };
  if (error instanceof CommanderError) return { code: error.exitCode === 0 ? 0 : EXIT_BAD_INPUT };
  return { code: 1, message: `berth: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` };
}
