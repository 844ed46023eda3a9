// The step runtime of a real build: the interpreter's steps dispatched to their handlers, each run in
// its thread's frame. A thread that was aborted (the build stopped, its timeout expired, a sibling
// branch failed fast) runs no further step: the interruption is thrown instead.
import type { Value } from "../pipeline/runtime/values.ts";
import { AgentLostError, type StepCall, type StepRuntime } from "../pipeline/runtime/steps.ts";
import { LaunchError } from "../controller/provisioner.ts";
import { abort, isInterruption, type Frame } from "./frame.ts";
import { AgentLost, FLOW_STEPS } from "./flow-steps.ts";
import { POD_STEPS } from "./pod-steps.ts";
import { WORKSPACE_STEPS } from "./workspace-steps.ts";
import type { BuildServices, StepHandler } from "./services.ts";

const HANDLERS: Record<string, StepHandler> = { ...FLOW_STEPS, ...POD_STEPS, ...WORKSPACE_STEPS };

export class BuildStepRuntime implements StepRuntime {
  private readonly build: BuildServices;
  private readonly root: Frame;

  constructor(build: BuildServices, root: Frame) {
    this.build = build;
    this.root = root;
  }

  async call(step: StepCall): Promise<Value> {
    const frame = (step.context.frame as Frame | undefined) ?? this.root;
    if (frame.signal.aborted) throw frame.signal.reason;
    const handler = HANDLERS[step.name];
    if (!handler) throw abort(`Berth cannot run the step '${step.name}'`, step);
    if (step.name !== "stage" && step.name !== "echo") this.build.output.progress.step?.(step.name);
    try {
      return await handler(step, frame, this.build);
    } catch (e) {
      // A thread stopped from outside fails with the reason it was stopped, whatever the step said.
      if (frame.signal.aborted && !isInterruption(e)) throw frame.signal.reason;
      // A step that failed because its pod was lost failed because of the pod: kubernetesAgent() retries that.
      const lost = frame.node?.agent.lostVerdict();
      if (lost?.infrastructure && !(e instanceof AgentLostError)) throw new AgentLost(new LaunchError(lost), step);
      throw e;
    }
  }
}
