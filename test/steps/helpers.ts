// Agent pods on the embedded cluster for the steps' end-to-end tests, each with its workspace made and a
// step context on it.
import type { StepContext } from "../../src/steps/sh.ts";
import { SecretMasker } from "../../src/steps/masker.ts";
import type { Controller } from "../../src/controller/provisioner.ts";
import type { ContainerTemplate } from "../../src/templates/model.ts";
import { Log, startEmbeddedController } from "../controller/helpers.ts";

export const WORKSPACE = "/home/jenkins/agent/workspace/job";

export type TestStepContext = StepContext & { log: Log };

export interface ContextOptions {
  /** The template's label (default "build"). */
  label?: string;
  env?: Record<string, string>;
  /** Values the context's masker hides. */
  secrets?: string[];
}

/** An agent pod of the template labelled `label`, its workspace made, and a step context on it. */
export async function stepContext(controller: Controller, options: ContextOptions = {}): Promise<TestStepContext> {
  const agent = await controller.requestAgent({ label: options.label ?? "build", log: new Log() });
  await agent.run(["mkdir", "-p", WORKSPACE]).result;
  return { agent, log: new Log(), cwd: WORKSPACE, env: options.env ?? {}, masker: new SecretMasker(options.secrets ?? []) };
}

/** An embedded cluster and controller with one "build" template of these containers, and a step context on a pod of it. */
export async function agentContext(t: { after(fn: () => unknown): void }, containers: ContainerTemplate[] = [], options: ContextOptions = {}): Promise<TestStepContext> {
  const { controller } = await startEmbeddedController(t, [{ name: "build", label: "build", containers }]);
  return stepContext(controller, options);
}
