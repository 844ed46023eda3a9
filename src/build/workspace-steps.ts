// Steps that work in the node's workspace: sh, dir, pwd, the file steps, archive and stash, checkout and
// git, withCredentials. Each hands its work to src/steps (which runs it in the pod) and turns a step
// failure into the AbortException Jenkins reports as `ERROR: <message>`.
import { posix } from "node:path";
import { randomBytes } from "node:crypto";
import { isMap, toStr, type Value } from "../pipeline/runtime/values.ts";
import { bool, booleans, str, strings } from "./args.ts";
import type { StepCall } from "../pipeline/runtime/steps.ts";
import { sh as runSh, StepError } from "../steps/sh.ts";
import { deleteDir, fileExists, readFile, writeFile } from "../steps/files.ts";
import { archiveArtifacts } from "../steps/artifacts.ts";
import { stash, unstash } from "../steps/stash.ts";
import { junit } from "../steps/junit.ts";
import { SecretMasker } from "../steps/masker.ts";
import { abort, cwdOf, parseEnv, requireNode, worsenResult, type Frame, type NodeFrame } from "./frame.ts";
import { secretsOf, type Credential } from "./credentials.ts";
import { CheckoutError, checkoutDirectory, checkoutGit, readTrusted } from "./scm.ts";
import type { BuildServices, StepHandler } from "./services.ts";

type OnNode = Frame & { node: NodeFrame };

/** Runs a step that needs the node, turning src/steps' failures into the step's AbortException. */
function onNode(body: (step: StepCall, frame: OnNode, build: BuildServices) => Promise<Value>): StepHandler {
  return async (step, frame, build) => {
    const node = requireNode(frame, step);
    try {
      return await body(step, { ...frame, node }, build);
    } catch (e) {
      if (e instanceof StepError || e instanceof CheckoutError) throw abort(e.message, step);
      throw e;
    }
  };
}

const fileContext = (frame: OnNode) => ({ agent: frame.node.agent, cwd: cwdOf(frame), log: frame.log });

const sh = onNode(async (step, frame, build) => {
  const returnStdout = bool(step, "returnStdout") ?? false;
  const returnStatus = bool(step, "returnStatus") ?? false;
  if (returnStdout && returnStatus) throw abort("sh: returnStdout and returnStatus cannot both be set", step);
  const encoding = str(step, "encoding");
  const label = str(step, "label");
  const result = await runSh(
    {
      agent: frame.node.agent,
      log: frame.log,
      cwd: cwdOf(frame),
      ...(frame.container ? { container: frame.container.name } : {}),
      ...(frame.container?.shell ? { shell: frame.container.shell } : {}),
      env: await exportedEnvironment(step, frame),
      masker: new SecretMasker(build.output.secretValues()),
      signal: frame.signal,
    },
    { script: str(step, "script") ?? "", returnStdout, returnStatus, ...(encoding ? { encoding } : {}), ...(label ? { label } : {}) },
  );
  return result ?? null;
});

/**
 * What a step exports into its container, as the plugin does: what the pipeline set, but not the agent's
 * own values (so a container keeps its own PATH and HOME); `NAME+X=v` (withEnv) is put in front of the
 * container's own NAME, as Jenkins means it to and the plugin does not (reference §5.5).
 */
async function exportedEnvironment(step: StepCall, frame: OnNode): Promise<Record<string, string>> {
  const { agentEnv, agent } = frame.node;
  const out: Record<string, string> = {};
  const prefixes: [string, string][] = [];
  for (const [name, value] of Object.entries(step.environment())) {
    const plus = name.indexOf("+");
    if (plus > 0) prefixes.push([name.slice(0, plus), value]);
    else if (agentEnv[name] !== value) out[name] = value;
  }
  if (prefixes.length === 0) return out;
  const target = frame.container?.name;
  const own = target && target !== agent.agentContainer ? await containerEnvironment(frame, target) : agentEnv;
  for (const [name, value] of prefixes) out[name] = [value, out[name] ?? own[name]].filter(Boolean).join(":");
  return out;
}

function containerEnvironment(frame: OnNode, container: string): Promise<Record<string, string>> {
  let env = frame.node.containerEnv.get(container);
  if (!env) {
    env = frame.node.agent.exec(container, ["env"]).then((r) => parseEnv(r.stdout), () => ({}));
    frame.node.containerEnv.set(container, env);
  }
  return env;
}

const dir: StepHandler = async (step, frame) => {
  const node = requireNode(frame, step);
  const path = posix.resolve(cwdOf({ ...frame, node }), str(step, "path") ?? ".");
  frame.log.line(`Running in ${path}`);
  // Jenkins creates the directory when a process first runs in it; creating it up front is simpler.
  await node.agent.run(["mkdir", "-p", path]).result;
  return step.body!(undefined, { ...frame, cwd: path });
};

/** `ws('/abs/dir') { }`: a custom workspace, as `dir` to an absolute path. */
const ws: StepHandler = async (step, frame, build) => {
  const path = str(step, "dir") ?? "";
  return dir({ ...step, args: new Map([["path", path]]) }, frame, build);
};

const windowsShell: StepHandler = async (step) => {
  throw abort(`${step.name} runs Windows PowerShell scripts; Berth runs Linux pods: use sh (with a #!/usr/bin/env pwsh script for PowerShell Core)`, step);
};

const pwd: StepHandler = async (step, frame) => {
  const node = requireNode(frame, step);
  return bool(step, "tmp") ? `${node.workspace}@tmp` : cwdOf({ ...frame, node });
};

const readWorkspaceFile = onNode(async (step, frame) => readFile(fileContext(frame), { file: str(step, "file") ?? "", ...strings(step, "encoding") }));

const files: Record<string, StepHandler> = {
  readFile: async (step, frame, build) => {
    // `load` outside a node reads the script from the Jenkinsfile's source, as a library would be.
    if (!frame.node && bool(step, "load")) return readTrusted(build, str(step, "file") ?? "", step).text;
    return readWorkspaceFile(step, frame, build);
  },
  writeFile: onNode(async (step, frame) => {
    await writeFile(fileContext(frame), { file: str(step, "file") ?? "", text: str(step, "text") ?? "", ...strings(step, "encoding") });
    return null;
  }),
  fileExists: onNode(async (step, frame) => fileExists(fileContext(frame), { file: str(step, "file") ?? "" })),
  deleteDir: onNode(async (_step, frame) => {
    await deleteDir(fileContext(frame));
    return null;
  }),
  archiveArtifacts: onNode(async (step, frame, build) => {
    if (bool(step, "onlyIfSuccessful") && (build.currentBuild.result ?? "SUCCESS") !== "SUCCESS") return null;
    const flags = booleans(step, "allowEmptyArchive", "fingerprint", "caseSensitive", "defaultExcludes");
    return archiveArtifacts(fileContext(frame), build.artifactsDir, { artifacts: str(step, "artifacts") ?? "", ...strings(step, "excludes"), ...flags });
  }),
  stash: onNode(async (step, frame, build) => {
    const options = { ...strings(step, "includes", "excludes"), ...booleans(step, "useDefaultExcludes", "allowEmpty") };
    await stash(fileContext(frame), build.stashDir, { name: str(step, "name") ?? "", ...options });
    return null;
  }),
  junit: onNode(async (step, frame, build) => {
    const flags = booleans(step, "allowEmptyResults", "skipMarkingBuildUnstable", "keepLongStdio");
    const { markUnstable, ...summary } = await junit(fileContext(frame), { testResults: str(step, "testResults") ?? "", ...flags });
    if (markUnstable) worsenResult(frame, build, "UNSTABLE");
    return new Map<Value, Value>(Object.entries(summary));
  }),
  unstash: onNode(async (step, frame, build) => {
    await unstash(fileContext(frame), build.stashDir, str(step, "name") ?? "");
    return null;
  }),
};

function checkoutTarget(frame: OnNode) {
  return { agent: frame.node.agent, cwd: cwdOf(frame), log: frame.log, signal: frame.signal };
}

const toMap = (r: Record<string, string>): Value => new Map<Value, Value>(Object.entries(r));

/** `checkout scm`, `checkout([$class: 'GitSCM', userRemoteConfigs: [[url: …]], branches: [[name: …]]])`, `checkout scmGit(…)`. */
const checkout = onNode(async (step, frame, build) => {
  const scm = step.args.get("scm") ?? null;
  const symbol = isMap(scm) ? toStr(scm.get("$symbol") ?? scm.get("$class") ?? null) : "";
  if (symbol === "scm") return toMap(await checkoutDirectory(checkoutTarget(frame), build.sourceDir));
  if (symbol === "GitSCM" || symbol === "scmGit") {
    const remotes = isMap(scm) ? scm.get("userRemoteConfigs") : null;
    const first = Array.isArray(remotes) ? remotes[0] : null;
    const url = isMap(first) ? first.get("url") : null;
    if (url == null) throw abort("checkout: the GitSCM has no userRemoteConfigs url", step);
    const branches = isMap(scm) ? scm.get("branches") : null;
    const branch = Array.isArray(branches) && isMap(branches[0]) ? toStr(branches[0].get("name") ?? null).replace(/^\*\//, "") : undefined;
    return toMap(await checkoutGit(checkoutTarget(frame), toStr(url), branch || undefined));
  }
  throw abort(`checkout: unsupported SCM ${symbol || toStr(scm)} (Berth checks out \`scm\` and git repositories)`, step);
});

const git = onNode(async (step, frame) => toMap(await checkoutGit(checkoutTarget(frame), str(step, "url") ?? "", str(step, "branch"))));

/** Variables one binding sets, and the files it writes (removed when the block ends). */
async function bind(binding: Value, build: BuildServices, step: StepCall, frame: OnNode | Frame): Promise<{ env: Record<string, string>; secrets: string[]; files: string[] }> {
  if (!isMap(binding)) throw abort(`withCredentials: expected bindings such as string(credentialsId: 'x', variable: 'X'), got ${toStr(binding)}`, step);
  const get = (k: string) => (binding.get(k) == null ? undefined : toStr(binding.get(k)!));
  const id = get("credentialsId") ?? "";
  const credential = await build.credentials.lookup(id);
  if (!credential) throw abort(`Could not find credentials entry with ID '${id}'`, step);
  const symbol = toStr(binding.get("$symbol") ?? binding.get("$class") ?? null);
  const wrong = (): never => { throw abort(`Credentials '${id}' is of type '${credential.kind}' where '${symbol}' was expected`, step); };
  const env: Record<string, string> = {};
  const files: string[] = [];
  const writeSecretFile = async (content: Buffer | string, name: string): Promise<string> => {
    const node = requireNode(frame, step);
    const path = `${node.workspace}@tmp/secretFiles/${randomBytes(8).toString("hex")}/${name}`;
    await writeFile({ agent: node.agent, cwd: node.workspace }, { file: path, text: Buffer.from(content).toString("base64"), encoding: "base64" });
    files.push(posix.dirname(path));
    return path;
  };
  switch (symbol) {
    case "string": if (credential.kind !== "string") wrong(); env[get("variable")!] = (credential as Credential & { kind: "string" }).secret; break;
    case "usernamePassword": case "UsernamePasswordMultiBinding": {
      if (credential.kind !== "usernamePassword") wrong();
      const c = credential as Credential & { kind: "usernamePassword" };
      if (get("usernameVariable")) env[get("usernameVariable")!] = c.username;
      if (get("passwordVariable")) env[get("passwordVariable")!] = c.password;
      break;
    }
    case "usernameColonPassword": {
      if (credential.kind !== "usernamePassword") wrong();
      const c = credential as Credential & { kind: "usernamePassword" };
      env[get("variable")!] = `${c.username}:${c.password}`;
      break;
    }
    case "file": {
      if (credential.kind !== "file") wrong();
      const c = credential as Credential & { kind: "file" };
      env[get("variable")!] = await writeSecretFile(c.content, c.fileName);
      break;
    }
    case "sshUserPrivateKey": {
      if (credential.kind !== "sshUserPrivateKey") wrong();
      const c = credential as Credential & { kind: "sshUserPrivateKey" };
      env[get("keyFileVariable")!] = await writeSecretFile(c.privateKey, "key");
      if (get("usernameVariable")) env[get("usernameVariable")!] = c.username;
      if (get("passphraseVariable")) env[get("passphraseVariable")!] = c.passphrase ?? "";
      break;
    }
    default: throw abort(`withCredentials: unsupported binding ${symbol}`, step);
  }
  return { env, secrets: secretsOf(credential), files };
}

const withCredentials: StepHandler = async (step, frame, build) => {
  const bindings = step.args.get("bindings") ?? null;
  const env: Record<string, string> = {};
  const files: string[] = [];
  try {
    for (const binding of Array.isArray(bindings) ? bindings : [bindings]) {
      const bound = await bind(binding, build, step, frame);
      build.output.addSecrets(bound.secrets);
      Object.assign(env, bound.env);
      files.push(...bound.files);
    }
    return await step.body!(env);
  } finally {
    if (files.length && frame.node) await frame.node.agent.run(["rm", "-rf", ...files]).result.catch(() => undefined);
  }
};

/** Declarative `NAME = credentials('id')`: NAME, plus NAME_USR and NAME_PSW for a username and password. */
const credentials: StepHandler = async (step, frame, build) => {
  const id = str(step, "id") ?? "";
  const name = str(step, "variable") ?? "";
  const c = await build.credentials.lookup(id);
  if (!c) throw abort(`Could not find credentials entry with ID '${id}'`, step);
  build.output.addSecrets(secretsOf(c));
  switch (c.kind) {
    case "string": return new Map<Value, Value>([[name, c.secret]]);
    case "usernamePassword": return new Map<Value, Value>([[name, `${c.username}:${c.password}`], [`${name}_USR`, c.username], [`${name}_PSW`, c.password]]);
    case "file": case "sshUserPrivateKey": {
      const { env } = await bind(new Map<Value, Value>([["$symbol", c.kind], ["credentialsId", id], ["variable", name], ["keyFileVariable", name], ["usernameVariable", `${name}_USR`]]), build, step, frame);
      return new Map<Value, Value>(Object.entries(env));
    }
  }
};

export const WORKSPACE_STEPS: Record<string, StepHandler> = { sh, dir, ws, pwd, powershell: windowsShell, pwsh: windowsShell, ...files, checkout, git, withCredentials, credentials };
