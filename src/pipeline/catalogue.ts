// What Berth implements or is committed to implement (issue 7): the steps a Jenkinsfile may call,
// each with the parameters it knows, plus the helper symbols used as step arguments
// (`containerTemplate(…)`, `envVar(…)`, `logRotator(…)`), the global variables, and the methods
// scripts may call on values. `berth lint` resolves every call against this file, so a step that is
// not here is reported as unsupported before anything runs. One place, so adding a step is one edit.

export interface StepInfo {
  /** Named parameters the step accepts. */
  readonly params: readonly string[];
  /** The parameter a single positional argument binds to (`sh 'x'` ≡ `sh script: 'x'`), if any. */
  readonly sole?: string;
  /** Takes a closure body (`dir('x') { … }`). */
  readonly body?: boolean;
  /** A helper that only builds a value for another step's argument, rather than acting. */
  readonly symbol?: boolean;
}

const step = (params: string[], extra: Omit<StepInfo, "params"> = {}): StepInfo => ({ params, ...extra });
const sym = (params: string[], sole?: string): StepInfo => ({ params, symbol: true, ...(sole ? { sole } : {}) });

const SHELL_STEP_PARAMS = ["script", "returnStdout", "returnStatus", "encoding", "label"];

const CONTAINER_TEMPLATE_PARAMS = [
  "name", "image", "command", "args", "ttyEnabled", "workingDir", "envVars", "privileged", "alwaysPullImage",
  "runAsUser", "runAsGroup", "resourceRequestCpu", "resourceLimitCpu", "resourceRequestMemory", "resourceLimitMemory",
  "resourceRequestEphemeralStorage", "resourceLimitEphemeralStorage", "ports", "livenessProbe", "shell",
];

/** podTemplate's parameters; also the options of declarative `agent { kubernetes { … } }` (plus a few). */
export const POD_TEMPLATE_PARAMS = [
  "label", "name", "namespace", "cloud", "inheritFrom", "containers", "envVars", "volumes", "workspaceVolume", "yaml",
  "yamlMergeStrategy", "inheritYamlMergeStrategy", "serviceAccount", "schedulerName", "nodeSelector", "nodeUsageMode",
  "workingDir", "annotations", "imagePullSecrets", "podRetention", "activeDeadlineSeconds", "idleMinutes", "instanceCap",
  "slaveConnectTimeout", "hostNetwork", "runAsUser", "runAsGroup", "supplementalGroups", "showRawYaml", "agentContainer",
  "agentInjection",
];

export const KUBERNETES_AGENT_OPTIONS = [
  ...POD_TEMPLATE_PARAMS.filter((p) => !["containers", "volumes", "envVars", "annotations", "imagePullSecrets", "name", "hostNetwork", "runAsUser", "runAsGroup", "nodeUsageMode"].includes(p)),
  "yamlFile", "defaultContainer", "customWorkspace", "retries", "containerTemplate", "containerTemplates",
];

export const STEPS: Readonly<Record<string, StepInfo>> = {
  // core steps (issue 7)
  echo: step(["message"], { sole: "message" }),
  // Groovy's own output methods write to the build log in Jenkins; the interpreter runs them as echo
  println: step(["message"], { sole: "message" }),
  print: step(["message"], { sole: "message" }),
  error: step(["message"], { sole: "message" }),
  unstable: step(["message"], { sole: "message" }),
  sh: step(SHELL_STEP_PARAMS, { sole: "script" }),
  // PowerShell in the step's container (PowerShell Core images on Linux, or a Windows node of a real
  // cluster): the kubernetes plugin's windows example uses `powershell`. `bat` (cmd.exe) is not here.
  powershell: step(SHELL_STEP_PARAMS, { sole: "script" }),
  pwsh: step(SHELL_STEP_PARAMS, { sole: "script" }),
  dir: step(["path"], { sole: "path", body: true }),
  withEnv: step(["overrides"], { sole: "overrides", body: true }),
  timeout: step(["time", "unit", "activity"], { sole: "time", body: true }),
  retry: step(["count", "conditions"], { sole: "count", body: true }),
  sleep: step(["time", "unit"], { sole: "time" }),
  parallel: step(["failFast"], {}),
  catchError: step(["buildResult", "stageResult", "message", "catchInterruptions"], { body: true }),
  warnError: step(["message", "catchInterruptions"], { sole: "message", body: true }),
  waitUntil: step(["initialRecurrencePeriod", "quiet"], { body: true }),
  readFile: step(["file", "encoding"], { sole: "file" }),
  writeFile: step(["file", "text", "encoding"]),
  fileExists: step(["file"], { sole: "file" }),
  stash: step(["name", "includes", "excludes", "useDefaultExcludes", "allowEmpty"], { sole: "name" }),
  unstash: step(["name"], { sole: "name" }),
  archiveArtifacts: step(["artifacts", "excludes", "allowEmptyArchive", "onlyIfSuccessful", "fingerprint", "defaultExcludes", "caseSensitive", "followSymlinks"], { sole: "artifacts" }),
  withCredentials: step(["bindings"], { sole: "bindings", body: true }),
  checkout: step(["scm", "changelog", "poll"], { sole: "scm" }),
  git: step(["url", "branch", "credentialsId", "changelog", "poll"], { sole: "url" }),
  isUnix: step([]),
  input: step(["message", "id", "ok", "submitter", "submitterParameter", "parameters"], { sole: "message" }),
  // test reports (junit plugin): read JUnit XML from the workspace, failing tests make the build UNSTABLE
  junit: step([
    "testResults", "allowEmptyResults", "keepLongStdio", "keepProperties", "keepTestNames", "skipMarkingBuildUnstable",
    "skipPublishingChecks", "skipOldReports", "checksName", "healthScaleFactor", "stdioRetention", "testDataPublishers",
  ], { sole: "testResults" }),
  // structure and small companions the runtime provides alongside them
  node: step(["label"], { sole: "label", body: true }),
  stage: step(["name"], { sole: "name", body: true }),
  ws: step(["dir"], { sole: "dir", body: true }),
  pwd: step(["tmp"]),
  deleteDir: step([]),
  load: step(["path"], { sole: "path" }),
  // Kubernetes plugin steps
  podTemplate: step(POD_TEMPLATE_PARAMS, { body: true }),
  container: step(["name", "shell"], { sole: "name", body: true }),
  containerLog: step(["name", "returnLog", "tailingLines", "sinceSeconds", "limitBytes"], { sole: "name" }),

  // helper symbols: Kubernetes
  containerTemplate: sym(CONTAINER_TEMPLATE_PARAMS),
  envVar: sym(["key", "value"]),
  containerEnvVar: sym(["key", "value"]),
  podEnvVar: sym(["key", "value"]),
  secretEnvVar: sym(["key", "secretName", "secretKey", "optional"]),
  portMapping: sym(["name", "containerPort", "hostPort"]),
  containerLivenessProbe: sym(["execArgs", "timeoutSeconds", "initialDelaySeconds", "failureThreshold", "periodSeconds", "successThreshold"]),
  podAnnotation: sym(["key", "value"]),
  hostPathVolume: sym(["hostPath", "mountPath", "readOnly"]),
  secretVolume: sym(["secretName", "mountPath", "optional", "defaultMode", "readOnly"]),
  configMapVolume: sym(["configMapName", "mountPath", "optional", "subPath", "readOnly", "defaultMode"]),
  emptyDirVolume: sym(["mountPath", "memory"]),
  nfsVolume: sym(["serverAddress", "serverPath", "mountPath", "readOnly"]),
  persistentVolumeClaim: sym(["claimName", "mountPath", "readOnly"]),
  dynamicPVC: sym(["requestsSize", "storageClassName", "accessModes", "mountPath"]),
  genericEphemeralVolume: sym(["requestsSize", "storageClassName", "accessModes", "mountPath"]),
  // workspace volumes: `dynamicPVC` and `genericEphemeralVolume` (above) double as workspace volumes
  emptyDirWorkspaceVolume: sym(["memory", "sizeLimit"]),
  hostPathWorkspaceVolume: sym(["hostPath"]),
  nfsWorkspaceVolume: sym(["serverAddress", "serverPath", "readOnly"]),
  persistentVolumeClaimWorkspaceVolume: sym(["claimName", "readOnly"]),
  // pod retention; `default()` cannot be written (a Groovy keyword): leaving podRetention out is the same
  never: sym([]),
  onFailure: sym([]),
  always: sym([]),
  evicted: sym([]),
  // yaml merge strategies
  merge: sym([]),
  override: sym([]),
  // the cloud's pod labels (`podLabels: [podLabel(key: 'team', value: 'ci')]`)
  podLabel: sym(["key", "value"]),
  // retry conditions
  kubernetesAgent: sym(["handleNonKubernetes"]),
  nonresumable: sym([]),
  agent: sym([]),
  // helper symbols: credentials bindings (withCredentials) and declarative `credentials('id')`
  usernamePassword: sym(["credentialsId", "usernameVariable", "passwordVariable"]),
  usernameColonPassword: sym(["credentialsId", "variable"]),
  file: sym(["credentialsId", "variable", "name", "description"]),
  sshUserPrivateKey: sym(["credentialsId", "keyFileVariable", "passphraseVariable", "usernameVariable"]),
  certificate: sym(["credentialsId", "keystoreVariable", "passwordVariable", "aliasVariable"]),
  credentials: sym(["id"], "id"),
  // `string` is both a credentials binding and a build parameter
  string: sym(["credentialsId", "variable", "name", "defaultValue", "description", "trim"]),
  // helper symbols: parameters, job properties and options
  text: sym(["name", "defaultValue", "description", "trim"]),
  booleanParam: sym(["name", "defaultValue", "description"]),
  choice: sym(["name", "choices", "description"]),
  password: sym(["name", "defaultValue", "description"]),
  properties: step(["properties"], { sole: "properties" }),
  parameters: sym(["parameterDefinitions"], "parameterDefinitions"),
  buildDiscarder: sym(["strategy"], "strategy"),
  logRotator: sym(["numToKeepStr", "daysToKeepStr", "artifactNumToKeepStr", "artifactDaysToKeepStr"]),
  disableConcurrentBuilds: sym(["abortPrevious"]),
  pipelineTriggers: sym(["triggers"], "triggers"),
  cron: sym(["spec"], "spec"),
  pollSCM: sym(["scmpoll_spec"], "scmpoll_spec"),
  scmGit: sym(["branches", "userRemoteConfigs", "extensions", "browser"]),
};

/** Declarative `options { }` entries (job properties, flags and wrappers) with their parameters. */
export const DECLARATIVE_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  buildDiscarder: ["strategy"], checkoutToSubdirectory: ["path"], disableConcurrentBuilds: ["abortPrevious"],
  disableResume: [], newContainerPerStage: [], overrideIndexTriggers: ["value"], preserveStashes: ["buildCount"],
  quietPeriod: ["quietPeriod"], retry: ["count", "conditions"], skipDefaultCheckout: ["value"],
  skipStagesAfterUnstable: [], timeout: ["time", "unit", "activity"], timestamps: [], parallelsAlwaysFailFast: [],
  disableRestartFromStage: [], durabilityHint: ["hint"],
};
/** Options a stage may carry (the rest are pipeline-wide). */
export const STAGE_OPTIONS: ReadonlySet<string> = new Set(["skipDefaultCheckout", "timeout", "retry", "timestamps"]);

export const DECLARATIVE_PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  string: ["name", "defaultValue", "description", "trim"], text: ["name", "defaultValue", "description", "trim"],
  booleanParam: ["name", "defaultValue", "description"], choice: ["name", "choices", "description"],
  password: ["name", "defaultValue", "description"],
};

export const DECLARATIVE_TRIGGERS: Readonly<Record<string, readonly string[]>> = {
  cron: ["spec"], pollSCM: ["scmpoll_spec"], upstream: ["upstreamProjects", "threshold"],
};

/** `when { }` conditions and their parameters; not/allOf/anyOf nest, expression takes a closure. */
export const WHEN_CONDITIONS: Readonly<Record<string, readonly string[]>> = {
  branch: ["pattern", "comparator"], buildingTag: [], changelog: ["pattern"], changeset: ["pattern", "caseSensitive", "comparator"],
  changeRequest: ["id", "target", "branch", "fork", "url", "title", "author", "authorDisplayName", "authorEmail", "comparator"],
  environment: ["name", "value", "ignoreCase", "comparator"], equals: ["expected", "actual"], expression: [], tag: ["pattern", "comparator"],
  triggeredBy: ["cause", "detail"], not: [], allOf: [], anyOf: [],
};
export const WHEN_FLAGS: ReadonlySet<string> = new Set(["beforeAgent", "beforeInput", "beforeOptions"]);

/** Post conditions in the order they run, whatever order they are written in (reference §3.3). */
export const POST_CONDITIONS = [
  "always", "changed", "fixed", "regression", "aborted", "success", "unsuccessful", "unstable", "failure", "notBuilt", "cleanup",
] as const;
export type PostCondition = (typeof POST_CONDITIONS)[number];

/** Global variables and what may be called on them; env and params take any property. */
export const GLOBALS: Readonly<Record<string, readonly string[]>> = {
  env: ["getProperty", "setProperty", "getEnvironment", "toString"],
  params: ["get", "containsKey", "getOrDefault", "each", "keySet", "values", "toString"],
  currentBuild: [
    "getNumber", "getResult", "setResult", "getCurrentResult", "getDisplayName", "setDisplayName", "getDescription", "setDescription",
    "getDuration", "getDurationString", "getStartTimeInMillis", "getTimeInMillis", "getId", "getProjectName", "getFullProjectName",
    "getFullDisplayName", "getAbsoluteUrl", "getPreviousBuild", "getNextBuild", "getChangeSets", "getBuildCauses", "getUpstreamBuilds",
    "getBuildVariables", "resultIsBetterOrEqualTo", "resultIsWorseOrEqualTo", "getKeepLog", "setKeepLog",
  ],
  scm: [],
};

/** Classes scripts may name: for static calls (`UUID.randomUUID()`), `new`, casts and catch clauses. */
export const CLASSES: Readonly<Record<string, readonly string[]>> = {
  UUID: ["randomUUID", "fromString"],
  Math: ["max", "min", "abs", "round", "floor", "ceil", "pow", "sqrt", "random"],
  Integer: ["parseInt", "valueOf", "toString", "MAX_VALUE", "MIN_VALUE"],
  Long: ["parseLong", "valueOf", "toString"],
  Double: ["parseDouble", "valueOf"],
  Boolean: ["parseBoolean", "valueOf"],
  String: ["valueOf", "format", "join"],
  System: ["currentTimeMillis", "nanoTime", "getenv"],
  Date: [], Exception: [], RuntimeException: [], IllegalArgumentException: [], IllegalStateException: [], Error: [],
  Throwable: [], AbortException: [], "hudson.AbortException": [], InterruptedException: [], Object: [], List: [], Map: [],
  ArrayList: [], HashMap: [], LinkedHashMap: [], StringBuilder: [], Closure: [], Set: [], HashSet: [],
  JsonSlurperClassic: [], "groovy.json.JsonSlurperClassic": [], JsonSlurper: [], "groovy.json.JsonSlurper": [],
  JsonOutput: ["toJson", "prettyPrint"], "groovy.json.JsonOutput": ["toJson", "prettyPrint"],
  Result: ["SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED", "fromString"],
  "hudson.model.Result": ["SUCCESS", "UNSTABLE", "FAILURE", "NOT_BUILT", "ABORTED", "fromString"],
  FlowInterruptedException: [], "org.jenkinsci.plugins.workflow.steps.FlowInterruptedException": [],
};

/**
 * Methods on values (strings, numbers, lists, maps, closures, exceptions) the interpreter provides:
 * the GDK/JDK subset real Jenkinsfiles call (reference §2.2 and §7).
 */
export const VALUE_METHODS: ReadonlySet<string> = new Set([
  // any object
  "toString", "equals", "hashCode", "getClass", "is", "asBoolean", "inspect", "dump", "with", "tap", "invokeMethod", "getProperty", "setProperty",
  // strings
  "trim", "split", "tokenize", "replace", "replaceAll", "replaceFirst", "contains", "startsWith", "endsWith", "toLowerCase",
  "toUpperCase", "substring", "size", "length", "isEmpty", "toInteger", "toLong", "toDouble", "toBigDecimal", "toBoolean", "capitalize",
  "uncapitalize", "stripIndent", "stripMargin", "matches", "format", "indexOf", "lastIndexOf", "charAt", "readLines", "eachLine",
  "padLeft", "padRight", "center", "multiply", "minus", "plus", "reverse", "find", "findAll", "count", "isNumber", "isInteger",
  "toList", "toSet", "getAt", "putAt", "leftShift", "concat", "equalsIgnoreCase", "compareTo", "denormalize", "normalize",
  "isBlank", "strip", "stripLeading", "stripTrailing", "chars", "bytes", "getBytes", "toCharArray", "trim", "takeWhile", "dropWhile",
  "take", "drop", "intern", "codePointAt", "encodeBase64", "decodeBase64", "md5", "sha256",
  // numbers
  "intValue", "longValue", "doubleValue", "abs", "round", "intdiv", "mod", "power", "div", "times", "upto", "downto", "step", "max", "min",
  // collections and maps
  "each", "eachWithIndex", "collect", "collectEntries", "collectMany", "any", "every", "join", "get", "put", "putAll", "remove",
  "removeAll", "retainAll", "add", "addAll", "clear", "keySet", "values", "entrySet", "containsKey", "containsValue", "getOrDefault",
  "first", "last", "head", "tail", "init", "sort", "unique", "flatten", "sum", "inject", "groupBy", "countBy", "findIndexOf",
  "indexed", "withIndex", "subList", "subMap", "asImmutable", "asType", "toArray", "iterator", "findResult", "findResults",
  "split", "intersect", "disjoint", "push", "pop", "reverseEach", "eachPermutation", "combinations", "transpose", "collate",
  "getKey", "getValue", "key", "value", "withDefault", "toSorted", "toUnique", "sort", "shuffled", "isCase", "containsAll",
  // closures
  "call", "curry", "rcurry", "ncurry", "memoize", "setDelegate", "setResolveStrategy", "getDelegate", "getOwner", "getMaximumNumberOfParameters",
  // exceptions and results
  "getMessage", "getCause", "getLocalizedMessage", "printStackTrace", "getStackTrace", "addSuppressed", "getSuppressed",
  "isBetterOrEqualTo", "isWorseOrEqualTo", "isBetterThan", "isWorseThan",
  // JSON and files returned by readFile/readJSON-style helpers
  "parseText", "parse", "toJson", "prettyPrint",
  // dates
  "format", "getTime", "toInstant",
  // RunWrapper accessors reachable through currentBuild.previousBuild etc.
  ...GLOBALS.currentBuild!,
]);

/** Real Jenkins steps Berth will not run, with what to write instead (lint appends it to "unsupported step"). */
export const UNSUPPORTED_STEPS: Readonly<Record<string, string>> = {
  bat: "Berth runs steps in Linux containers: use sh, or pwsh for PowerShell",
};

export function isStep(name: string): boolean {
  return Object.hasOwn(STEPS, name);
}
