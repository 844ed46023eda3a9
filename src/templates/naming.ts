// Names and labels as the Kubernetes plugin makes them, so pods, selectors and dashboards that users
// already have keep matching: label sanitising, the label digest, agent names with a random suffix,
// and the shell-like splitting of containerTemplate `command`/`args` strings.
import { createHash } from "node:crypto";

const LABEL_VALUE = /^[a-zA-Z0-9]([_.\-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The alphabet of every random suffix: no vowels, so suffixes never spell words. */
const SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz0123456789";
const SUFFIX_LENGTH = 5;

export type RandomSource = () => number;

export function randomSuffix(random: RandomSource = Math.random): string {
  let out = "";
  for (let i = 0; i < SUFFIX_LENGTH; i++) out += SUFFIX_ALPHABET[Math.floor(random() * SUFFIX_ALPHABET.length)];
  return out;
}

/** Turns any string into a valid label value: the last 57 characters, odd characters as `_`, ends alphanumeric. */
export function sanitizeLabel(value: string): string {
  const alnum = /[a-zA-Z0-9]/;
  let s = value.slice(-(63 - 1 - SUFFIX_LENGTH)).replace(/[^_a-zA-Z0-9-]/g, "_");
  if (s.length > 0 && !alnum.test(s[0]!)) s = "x" + s.slice(1);
  if (s.length > 0 && !alnum.test(s[s.length - 1]!)) s = s.slice(0, -1) + "x";
  return s;
}

export function isValidLabelValue(value: string): boolean {
  return value === "" || (value.length <= 63 && LABEL_VALUE.test(value));
}

/** The pod labels a template contributes: `jenkins/label` and a digest of the full label string. */
export function templateLabels(label: string | undefined): Readonly<Record<string, string>> {
  if (label === undefined || label === "") return DEFAULT_LABELS;
  let labels = labelsByLabel.get(label);
  if (labels === undefined) {
    labels = Object.freeze({ "jenkins/label": sanitizeLabel(label), "jenkins/label-digest": createHash("sha1").update(label, "utf8").digest("hex") });
    if (labelsByLabel.size > 1000) labelsByLabel.clear();
    labelsByLabel.set(label, labels);
  }
  return labels;
}

const DEFAULT_LABELS = Object.freeze({ "jenkins/label": "slave-default", "jenkins/label-digest": "0" });
// The same few labels are sanitised and hashed for every pod of a template.
const labelsByLabel = new Map<string, Readonly<Record<string, string>>>();

/** An agent (and pod) name from a template name: lowercased, `_`/spaces as `-`, random suffix. */
export function agentNameFor(templateName: string | undefined, random: RandomSource = Math.random): string {
  const base = (templateName?.trim() || "jenkins-agent").replace(/[ _]/g, "-").toLowerCase().slice(0, 62 - SUFFIX_LENGTH);
  const name = `${base}-${randomSuffix(random)}`;
  return DNS_SUBDOMAIN.test(name) ? name : `jenkins-agent-${randomSuffix(random)}`;
}

/**
 * Splits a containerTemplate `command` or `args` string into words the way a shell would for the common
 * cases: whitespace separates, single and double quotes group (and are removed), a backslash escapes
 * the next character outside single quotes.
 */
export function splitCommandLine(line: string): string[] {
  const words: string[] = [];
  let current = "";
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === "\\" && quote === '"' && i + 1 < line.length) current += line[++i];
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < line.length) {
      current += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = "";
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}
