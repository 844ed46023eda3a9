// The default agent container: a stock public Node image whose command fetches the agent program from
// the controller and runs it, the way Jenkins agents fetch agent.jar. Nothing has to be built or
// pushed for a stock cluster; a cloud can name another image (`agentImage`) or a registry mirror
// (`jnlpregistry`), and a template can bring its own `jnlp` container instead.
import type { Cloud } from "./model.ts";

export const DEFAULT_AGENT_IMAGE = "docker.io/library/node:24-alpine";

/** Path of the agent program on the controller, relative to the controller URL. */
export const AGENT_PROGRAM_PATH = "agent/berth-agent.mjs";

export function agentImageFor(cloud: Cloud): string {
  if (cloud.agentImage) return cloud.agentImage;
  if (cloud.jnlpregistry) return `${cloud.jnlpregistry.replace(/\/+$/, "")}/${DEFAULT_AGENT_IMAGE.replace(/^docker\.io\//, "")}`;
  return DEFAULT_AGENT_IMAGE;
}

/**
 * The command that starts the agent: download it from `$JENKINS_URL` and run it; with `saveTo`, only save
 * it there (agent injection's init container). Plain `node` is the only thing it needs from the image.
 */
export function agentBootstrap(saveTo?: string): string[] {
  return saveTo === undefined ? [...RUN_AGENT] : bootstrapCommand(saveTo);
}

function bootstrapCommand(saveTo?: string): string[] {
  const lines = [
    `const url = new URL(${JSON.stringify(AGENT_PROGRAM_PATH)}, process.env.JENKINS_URL);`,
    `const res = await fetch(url);`,
    `if (!res.ok) { console.error(\`cannot download the Berth agent from \${url}: HTTP \${res.status}\`); process.exit(1); }`,
    saveTo
      ? `(await import("node:fs")).writeFileSync(${JSON.stringify(saveTo)}, await res.text());`
      : `await import("data:text/javascript," + encodeURIComponent(await res.text()));`,
  ];
  return ["node", "--input-type=module", "-e", lines.join("\n") + "\n"];
}

const RUN_AGENT = bootstrapCommand();
