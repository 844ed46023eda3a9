// Label and field selectors as list and watch accept them (reference §3.5). Parsing is strict: a
// selector that cannot be parsed is the client's error (400), never "matches nothing".
import { badRequest } from "./status.ts";

export type LabelRequirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists" };

export type LabelSelector = LabelRequirement[];

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (ch === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim()).filter((p) => p !== "");
}

function checkKey(key: string, selector: string): string {
  if (!KEY.test(key)) throw badRequest(`unable to parse requirement: invalid label key "${key}" in selector "${selector}"`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (value.length > 63 || !VALUE.test(value)) {
    throw badRequest(`unable to parse requirement: invalid label value: "${value}" in selector "${selector}"`);
  }
  return value;
}

export function parseLabelSelector(text: string | undefined | null): LabelSelector {
  if (!text) return [];
  return splitTopLevel(text).map((part): LabelRequirement => {
    const setMatch = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(part);
    if (setMatch) {
      const values = (setMatch[3] ?? "").split(",").map((v) => checkValue(v.trim(), text));
      return { key: checkKey(setMatch[1] ?? "", text), op: setMatch[2] as "in" | "notin", values };
    }
    const eqMatch = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (eqMatch) {
      return { key: checkKey(eqMatch[1] ?? "", text), op: eqMatch[2] === "!=" ? "!=" : "=", value: checkValue((eqMatch[3] ?? "").trim(), text) };
    }
    if (part.startsWith("!")) return { key: checkKey(part.slice(1).trim(), text), op: "!exists" };
    return { key: checkKey(part, text), op: "exists" };
  });
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const get = (key: string): string | undefined => (labels && Object.hasOwn(labels, key) ? labels[key] : undefined);
  return selector.every((req) => {
    const value = get(req.key);
    switch (req.op) {
      case "=":
        return value === req.value;
      case "!=":
        return value !== req.value;
      case "in":
        return value !== undefined && req.values.includes(value);
      case "notin":
        return value === undefined || !req.values.includes(value);
      case "exists":
        return value !== undefined;
      case "!exists":
        return value === undefined;
    }
  });
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}

export type FieldSelector = FieldRequirement[];

/**
 * Parses a field selector and checks each field against the kind's whitelist, as the real server
 * does (`field label not supported: spec.foo`).
 */
export function parseFieldSelector(text: string | undefined | null, supported: (field: string) => boolean): FieldSelector {
  if (!text) return [];
  return splitTopLevel(text).map((part) => {
    const match = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!match) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = (match[1] ?? "").trim();
    if (!supported(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, op: match[2] === "!=" ? "!=" : "=", value: (match[3] ?? "").trim() };
  });
}

export function matchesFields(selector: FieldSelector, fieldValue: (field: string) => string): boolean {
  return selector.every((req) => (req.op === "=" ? fieldValue(req.field) === req.value : fieldValue(req.field) !== req.value));
}
