// What an image means to the process runtime. It cannot unpack or run image contents: a container runs a
// host command. So "pulling" validates the reference, checks it against the image policy and records it;
// the record is what imageStatus/listImages report. The policy is how tests (and cautious operators) make
// a pull fail, so the kubelet's ErrImagePull -> ImagePullBackOff path runs for real.

import { createHash } from "node:crypto";
import type { Image, ImageService, ImageSpec } from "../cri.ts";
import { RuntimeError } from "../cri.ts";
import { parseImageReference, type ImageReference } from "../image-reference.ts";

export interface ImagePolicy {
  /**
   * Glob patterns ("*" matches any run of characters, "/" included) of images that are unavailable.
   * A pattern is matched against both the reference as written ("nginx:1.25") and its normalized form
   * ("docker.io/library/nginx:1.25"). Default: none, every valid reference pulls.
   */
  unavailable?: string[];
}

function globToRegExp(pattern: string): RegExp {
  // Hand-written: path globbing libraries treat "/" specially, which image references must not.
  const escaped = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*")}$`);
}

function imageId(reference: ImageReference): string {
  // There is no image config to hash; a stable id derived from the normalized reference stands in for it.
  return `sha256:${createHash("sha256").update(reference.normalized).digest("hex")}`;
}

export class ProcessImageService implements ImageService {
  private readonly unavailable: { pattern: string; regexp: RegExp }[];
  private readonly images = new Map<string, Image>();

  constructor(policy: ImagePolicy = {}) {
    this.unavailable = (policy.unavailable ?? []).map((pattern) => ({ pattern, regexp: globToRegExp(pattern) }));
  }

  async pullImage(image: ImageSpec): Promise<string> {
    const reference = parseImageReference(image.image);
    const blocked = this.unavailable.find(({ regexp }) => regexp.test(image.image) || regexp.test(reference.normalized));
    if (blocked) {
      throw new RuntimeError(
        "ErrImagePull",
        `failed to pull image "${image.image}": image is unavailable under the process runtime's image policy (pattern "${blocked.pattern}")`,
      );
    }
    const id = imageId(reference);
    const existing = this.images.get(id);
    const record: Image = existing ?? { id, repoTags: [], repoDigests: [], size: 0 };
    if (reference.tag && !record.repoTags.includes(reference.normalized)) record.repoTags.push(reference.normalized);
    if (reference.digest && !record.repoDigests.includes(reference.normalized)) record.repoDigests.push(reference.normalized);
    this.images.set(id, record);
    return reference.normalized;
  }

  async imageStatus(image: ImageSpec): Promise<Image | null> {
    const reference = parseImageReference(image.image);
    return this.images.get(imageId(reference)) ?? null;
  }

  async listImages(): Promise<Image[]> {
    return [...this.images.values()];
  }

  async removeImage(image: ImageSpec): Promise<void> {
    this.images.delete(imageId(parseImageReference(image.image)));
  }
}
