// The containerLog step (seed 001, reference §2.4): the log of another container of the agent's pod,
// printed between start and end markers or returned. Options apply only when greater than 0. Errors
// never fail the build: they are reported and the step returns "".
import type { BuildLog, LeasedAgent } from "../controller/provisioner.ts";
import type { SecretMasker } from "./masker.ts";

export interface ContainerLogOptions {
  name: string;
  returnLog?: boolean;
  tailingLines?: number;
  sinceSeconds?: number;
  limitBytes?: number;
}

export async function containerLog(agent: LeasedAgent, log: BuildLog, masker: SecretMasker, options: ContainerLogOptions): Promise<string> {
  const query = {
    ...(options.tailingLines && options.tailingLines > 0 ? { tailLines: options.tailingLines } : {}),
    ...(options.sinceSeconds && options.sinceSeconds > 0 ? { sinceSeconds: options.sinceSeconds } : {}),
    ...(options.limitBytes && options.limitBytes > 0 ? { limitBytes: options.limitBytes } : {}),
  };
  let text: string;
  try {
    text = masker.mask(await agent.containerLog(options.name, query));
  } catch (e) {
    log.line(`Failed to get logs for container ${options.name}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    return "";
  }
  if (options.returnLog) return text;
  log.line(`> start log of container '${options.name}' in pod '${agent.podName}'`);
  for (const line of text.replace(/\n$/, "").split("\n")) log.line(line);
  log.line(`> end log of container '${options.name}' in pod '${agent.podName}'`);
  return "";
}
