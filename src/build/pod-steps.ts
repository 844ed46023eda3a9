// The Kubernetes plugin's steps (reference plugin §2): podTemplate defines a template for its body, node
// gets an agent pod through the controller, container switches the container later steps run in, and
// containerLog reads a container's log.
import { LaunchError, type LeasedAgent } from "../controller/provisioner.ts";
import { bool, str, strings } from "./args.ts";
import { DEFAULT_WORKING_DIR } from "../templates/model.ts";
import { TemplateError } from "../templates/errors.ts";
import { containerLog as readContainerLog } from "../steps/container-log.ts";
import { SecretMasker } from "../steps/masker.ts";
import { AgentLost } from "./flow-steps.ts";
import { abort, parseEnv, requireNode, type Frame } from "./frame.ts";
import { readTrusted } from "./scm.ts";
import { podTemplateFromStep } from "./pod-template-step.ts";
import type { StepHandler } from "./services.ts";

const podTemplate: StepHandler = async (step, frame, build) => {
  const { template, generatedLabel, cloud, ignored } = podTemplateFromStep(step.args, {
    buildId: build.buildId,
    ...(frame.enclosing ? { enclosing: frame.enclosing } : {}),
    at: { file: build.jenkinsfile, line: step.line, column: step.column },
    ...(step.argPositions.get("yaml") ? { yamlAt: step.argPositions.get("yaml")! } : {}),
    readYamlFile: (path) => readTrusted(build, path, step),
  });
  for (const key of ignored) frame.log.line(`WARNING: podTemplate: '${key}' has no effect (as in the Kubernetes plugin)`);
  const inner: Frame = {
    ...frame,
    templates: [...frame.templates, template],
    enclosing: { name: template.name!, ...(template.namespace ? { namespace: template.namespace } : {}) },
    ...(cloud ?? frame.cloud ? { cloud: cloud ?? frame.cloud } : {}),
  };
  return step.body ? step.body(generatedLabel ? { POD_LABEL: generatedLabel } : undefined, inner) : null;
};

/** The agent container's working directory: where the workspace lives. */
function agentWorkingDir(agent: LeasedAgent): string {
  return agent.pod()?.spec?.containers.find((c) => c.name === agent.agentContainer)?.workingDir ?? DEFAULT_WORKING_DIR;
}

const node: StepHandler = async (step, frame, build) => {
  const label = str(step, "label")?.trim() || undefined;
  const controller = await build.controller().catch((e: unknown) => {
    throw abort(`cannot reach the cluster: ${e instanceof Error ? e.message : String(e)}`, step);
  });
  try {
    return await controller.withAgent(
      {
        ...(label ? { label } : {}),
        ...(frame.templates.length ? { templates: [...frame.templates] } : {}),
        ...(frame.cloud ? { cloud: frame.cloud } : {}),
        log: frame.log,
        signal: frame.signal,
      },
      async (agent) => {
        const workspace = `${agentWorkingDir(agent)}/workspace/${build.jobName}`;
        const out: Buffer[] = [];
        const made = await agent.run(["sh", "-c", 'mkdir -p "$1" "$1@tmp" && env', "sh", workspace], { onOutput: (stream, data) => stream === "stdout" && out.push(data) }).result;
        if (made.code !== 0) throw abort(`cannot create the workspace ${workspace} in pod ${agent.podName}: ${made.error ?? `exit code ${made.code}`}`, step);
        frame.log.line(`Running on ${agent.name} in ${workspace}`);
        // The agent's own environment is the node's, as in Jenkins (env.PATH, env.HOME…); its secret is not.
        const { JENKINS_SECRET: secret, ...agentEnv } = parseEnv(Buffer.concat(out).toString("utf8"));
        build.output.addSecrets([...(secret ? [secret] : []), ...(await agent.secretEnvValues())]);
        const env = { ...agentEnv, NODE_NAME: agent.name, NODE_LABELS: label ?? agent.name, WORKSPACE: workspace, WORKSPACE_TMP: `${workspace}@tmp`, EXECUTOR_NUMBER: "0" };
        const { cwd: _cwd, container: _container, ...outer } = frame;
        return step.body!(env, { ...outer, node: { agent, workspace, agentEnv, containerEnv: new Map() } });
      },
    );
  } catch (e) {
    if (e instanceof TemplateError) throw abort(e.format(), step);
    if (e instanceof LaunchError) throw e.verdict.infrastructure ? new AgentLost(e, step) : abort(e.message, step);
    throw e;
  }
};

const container: StepHandler = async (step, frame) => {
  requireNode(frame, step);
  const name = str(step, "name") ?? "";
  const shell = str(step, "shell")?.trim() || undefined;
  return step.body!({ POD_CONTAINER: name }, { ...frame, container: { name, ...(shell ? { shell } : {}) } });
};

const containerLog: StepHandler = async (step, frame, build) => {
  const { agent } = requireNode(frame, step);
  const numbers = Object.fromEntries(Object.entries(strings(step, "tailingLines", "sinceSeconds", "limitBytes")).map(([k, v]) => [k, Number(v)]));
  return readContainerLog(agent, frame.log, new SecretMasker(build.output.secretValues()), { name: str(step, "name") ?? "", returnLog: bool(step, "returnLog") ?? false, ...numbers });
};

export const POD_STEPS: Record<string, StepHandler> = { podTemplate, node, container, containerLog };
