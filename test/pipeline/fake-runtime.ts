// A step runtime for tests: records calls, keeps a log, runs bodies with the environment the real
// steps would layer (POD_LABEL, POD_CONTAINER, withEnv), and fails `sh 'exit N'` like a shell would.
import { PipelineError, toStr, type Value } from "../../src/pipeline/runtime/values.ts";
import type { StepCall, StepRuntime } from "../../src/pipeline/runtime/steps.ts";

/** Records calls; echo logs, sh "runs" by echoing its script, block steps layer their env. */
export class FakeRuntime implements StepRuntime {
  readonly log: string[] = [];
  readonly calls: StepCall[] = [];
  private pods = 0;

  async call(step: StepCall): Promise<Value> {
    this.calls.push(step);
    const arg = (k: string) => step.args.get(k) ?? null;
    switch (step.name) {
      case "echo": this.log.push(toStr(arg("message"))); return null;
      case "sh": {
        const script = toStr(arg("script"));
        this.log.push(`+ ${script}${step.env("POD_CONTAINER") ? ` [in ${step.env("POD_CONTAINER")}]` : ""}`);
        if (script.startsWith("exit ")) throw new PipelineError(`script returned exit code ${script.slice(5)}`, "hudson.AbortException");
        return arg("returnStdout") === true ? `out of ${script}\n` : null;
      }
      case "error": throw new PipelineError(toStr(arg("message")), "hudson.AbortException");
      case "container": return step.body!({ POD_CONTAINER: toStr(arg("name")) });
      case "node": this.log.push(`node ${toStr(arg("label"))}`); return step.body!();
      case "podTemplate": {
        this.log.push(`podTemplate ${[...step.args.keys()].join(",")}`);
        return step.body!({ POD_LABEL: `pod-${++this.pods}` });
      }
      case "stage":
        if (step.args.has("skip")) { this.log.push(`Stage "${toStr(arg("name"))}" skipped due to ${toStr(arg("skip"))}`); return null; }
        this.log.push(`[${toStr(arg("name"))}]`);
        return step.body!();
      case "credentials": {
        const name = toStr(arg("variable"));
        return new Map<Value, Value>([[name, `user:secret-of-${toStr(arg("id"))}`], [`${name}_USR`, "user"], [`${name}_PSW`, `secret-of-${toStr(arg("id"))}`]]);
      }
      case "withEnv": {
        const extra = Object.fromEntries((arg("overrides") as string[]).map((kv) => kv.split("=") as [string, string]));
        return step.body!(extra);
      }
      case "parallel": {
        const results = new Map<Value, Value>();
        for (const [name, branch] of step.args) if (name !== "failFast") results.set(name, await step.invoke(branch as never));
        return results;
      }
      default: return step.body ? step.body() : null;
    }
  }
}

