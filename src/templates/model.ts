// The pod template model: what an admin writes in berth.yaml and what a Jenkinsfile's podTemplate step
// passes. Every field is optional and `undefined` means "not set", which is what inheritance keys on
// (the plugin compares against Java defaults instead; see docs/templates.md for where that differs).

export type EnvVar =
  | { kind: "envVar"; key: string; value: string }
  | { kind: "secretEnvVar"; key: string; secretName: string; secretKey: string; optional?: boolean };

export type Volume =
  | { kind: "emptyDirVolume"; mountPath: string; memory?: boolean }
  | { kind: "configMapVolume"; mountPath: string; configMapName: string; optional?: boolean; subPath?: string }
  | { kind: "secretVolume"; mountPath: string; secretName: string; defaultMode?: string; optional?: boolean }
  | { kind: "hostPathVolume"; mountPath: string; hostPath: string; readOnly?: boolean }
  | { kind: "nfsVolume"; mountPath: string; serverAddress: string; serverPath: string; readOnly?: boolean }
  | { kind: "persistentVolumeClaim"; mountPath: string; claimName: string; readOnly?: boolean }
  | ({ kind: "dynamicPVC"; mountPath: string } & ProvisionedVolume)
  | ({ kind: "genericEphemeralVolume"; mountPath: string } & ProvisionedVolume);

export interface ProvisionedVolume {
  storageClassName?: string;
  requestsSize?: string;
  accessModes?: string;
}

export type WorkspaceVolume =
  | { kind: "emptyDirWorkspaceVolume"; memory?: boolean; sizeLimit?: string }
  | ({ kind: "dynamicPVC" } & ProvisionedVolume)
  | ({ kind: "genericEphemeralVolume" } & ProvisionedVolume)
  | { kind: "hostPathWorkspaceVolume"; hostPath: string }
  | { kind: "nfsWorkspaceVolume"; serverAddress: string; serverPath: string; readOnly?: boolean }
  | { kind: "persistentVolumeClaimWorkspaceVolume"; claimName: string; readOnly?: boolean };

export const POD_RETENTIONS = ["never", "onFailure", "always", "evicted", "default"] as const;
export type PodRetention = (typeof POD_RETENTIONS)[number];

export const YAML_MERGE_STRATEGIES = ["override", "merge"] as const;
export type YamlMergeStrategy = (typeof YAML_MERGE_STRATEGIES)[number];

export const NODE_USAGE_MODES = ["NORMAL", "EXCLUSIVE"] as const;
export type NodeUsageMode = (typeof NODE_USAGE_MODES)[number];

export interface PortMapping {
  name?: string;
  containerPort: number;
  hostPort?: number;
}

export interface LivenessProbe {
  execArgs: string;
  timeoutSeconds?: number;
  initialDelaySeconds?: number;
  failureThreshold?: number;
  periodSeconds?: number;
  successThreshold?: number;
}

export interface Annotation {
  key: string;
  value: string;
}

/** Where a value was written, for error messages: `file:line:column`. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export interface ContainerTemplate {
  name: string;
  image?: string;
  command?: string;
  args?: string;
  workingDir?: string;
  ttyEnabled?: boolean;
  privileged?: boolean;
  alwaysPullImage?: boolean;
  runAsUser?: string;
  runAsGroup?: string;
  resourceRequestCpu?: string;
  resourceRequestMemory?: string;
  resourceRequestEphemeralStorage?: string;
  resourceLimitCpu?: string;
  resourceLimitMemory?: string;
  resourceLimitEphemeralStorage?: string;
  shell?: string;
  envVars?: EnvVar[];
  ports?: PortMapping[];
  livenessProbe?: LivenessProbe;
}

/** One raw `yaml` fragment and the template that wrote it. */
export interface YamlFragment {
  template: string;
  text: string;
  /** Position of the first line of the fragment's text in its file, when it came from one. */
  at?: SourcePosition;
}

export interface PodTemplate {
  name?: string;
  namespace?: string;
  label?: string;
  inheritFrom?: string;
  containers?: ContainerTemplate[];
  envVars?: EnvVar[];
  volumes?: Volume[];
  workspaceVolume?: WorkspaceVolume;
  annotations?: Annotation[];
  imagePullSecrets?: string[];
  nodeSelector?: string;
  nodeUsageMode?: NodeUsageMode;
  serviceAccount?: string;
  schedulerName?: string;
  instanceCap?: number;
  slaveConnectTimeout?: number;
  idleMinutes?: number;
  activeDeadlineSeconds?: number;
  terminationGracePeriodSeconds?: number;
  hostNetwork?: boolean;
  runAsUser?: string;
  runAsGroup?: string;
  supplementalGroups?: string;
  yaml?: string;
  yamlMergeStrategy?: YamlMergeStrategy;
  inheritYamlMergeStrategy?: boolean;
  showRawYaml?: boolean;
  podRetention?: PodRetention;
  agentContainer?: string;
  agentInjection?: boolean;
  /** Where the template was defined, for error messages. */
  at?: SourcePosition;
  /** Position of the `yaml` value, so YAML errors inside it point into the file. */
  yamlAt?: SourcePosition;
}

/** A cloud: where pods go and the settings every template of it shares. */
export interface Cloud {
  name: string;
  serverUrl?: string;
  serverCertificate?: string;
  skipTlsVerify?: boolean;
  credentialsId?: string;
  namespace?: string;
  jenkinsUrl?: string;
  jenkinsTunnel?: string;
  webSocket?: boolean;
  directConnection?: boolean;
  containerCap?: number;
  podLabels: Record<string, string>;
  podRetention: PodRetention;
  maxRequestsPerHost?: number;
  connectTimeout?: number;
  readTimeout?: number;
  retentionTimeout?: number;
  usageRestricted?: boolean;
  defaultsProviderTemplate?: string;
  addMasterProxyEnvVars?: boolean;
  restrictedPssSecurityContext?: boolean;
  /** Registry prefix for the default agent image (the plugin's `jnlpregistry`). */
  jnlpregistry?: string;
  /** Berth: the agent container image used when no template supplies one. */
  agentImage?: string;
  /** Berth: a kubeconfig file (and context) to reach the cluster, instead of serverUrl or autoconfiguration. */
  kubeconfig?: string;
  context?: string;
  /** Berth: client-side rate limit for API calls to this cloud. */
  qps?: number;
  burst?: number;
  templates: PodTemplate[];
  at?: SourcePosition;
}

export const DEFAULT_WORKING_DIR = "/home/jenkins/agent";
export const DEFAULT_AGENT_CONTAINER = "jnlp";
export const DEFAULT_SLAVE_CONNECT_TIMEOUT = 1000;
export const WORKSPACE_VOLUME_NAME = "workspace-volume";
