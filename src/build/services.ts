// What every step handler of a build can reach: the build's own state and the services around it.
import type { Controller } from "../controller/provisioner.ts";
import type { CurrentBuild } from "../pipeline/runtime/globals.ts";
import type { StepCall } from "../pipeline/runtime/steps.ts";
import type { Value } from "../pipeline/runtime/values.ts";
import type { CredentialStore } from "./credentials.ts";
import type { Frame } from "./frame.ts";
import type { BuildOutput } from "./output.ts";

/** How a non-interactive build answers `input`: go on with the defaults, or stop the build. */
export type InputPolicy = "proceed" | "abort" | "fail";

export interface BuildServices {
  readonly controller: () => Promise<Controller>;
  readonly output: BuildOutput;
  readonly currentBuild: CurrentBuild;
  /** `<job>#<number>`, the base of generated pod labels. */
  readonly buildId: string;
  readonly jobName: string;
  /** Where the Jenkinsfile is: `checkout scm` copies this directory, `yamlFile` and `load` read from it. */
  readonly sourceDir: string;
  /** The repository the Jenkinsfile is in (its git work tree), or its directory when it is in none. */
  readonly sourceRoot: string;
  readonly jenkinsfile: string;
  /** Where archived artifacts go. */
  readonly artifactsDir: string;
  /** Where stashes are kept until the build ends. */
  readonly stashDir: string;
  readonly credentials: CredentialStore;
  readonly input: InputPolicy;
  /** Asks the user (on a terminal); unset when nobody can answer. */
  readonly ask?: (question: string) => Promise<string>;
}

export type StepHandler = (step: StepCall, frame: Frame, build: BuildServices) => Promise<Value>;
