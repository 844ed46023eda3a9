// Image references (registry/name:tag@digest), parsed with the grammar of the distribution project through
// @swimlane/docker-reference, a port of it, rather than a regular expression of our own.

import { parseFamiliarName } from "@swimlane/docker-reference";
import { RuntimeError } from "./cri.ts";

export interface ImageReference {
  /** Registry host (and port): "docker.io" when the reference names none. */
  domain: string;
  /** Path within the registry: "library/nginx" for "nginx". */
  repository: string;
  tag?: string;
  digest?: string;
  /** Fully qualified form with the default tag filled in: "docker.io/library/nginx:latest". */
  normalized: string;
}

/** Parses a reference as written in a pod spec; throws RuntimeError(InvalidImageName) if it is not one. */
export function parseImageReference(text: string): ImageReference {
  let parsed;
  try {
    parsed = parseFamiliarName(text);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new RuntimeError("InvalidImageName", `Failed to apply default image tag "${text}": couldn't parse image name "${text}": ${why}`);
  }
  const domain = parsed.domain ?? "docker.io";
  const repository = parsed.repository ?? "";
  // Like the kubelet, an untagged reference without a digest means ":latest".
  const tag = parsed.tag ?? (parsed.digest ? undefined : "latest");
  const digest = parsed.digest;
  const normalized = `${domain}/${repository}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`;
  return { domain, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}), normalized };
}
