// resource.Quantity strings as numbers: cpu in millicores, everything else in base units. Written here
// because the components may not import the API server's internals, and the grammar is one regex.

const SUFFIX: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};
const PATTERN = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

/** The value of a quantity in base units (cores for cpu), or undefined when it is not a quantity. */
export function quantityValue(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return undefined;
  const match = PATTERN.exec(value.trim());
  if (!match) return undefined;
  const base = Number(match[1]);
  if (match[3] !== undefined) return base * 10 ** Number(match[3]);
  return base * (SUFFIX[match[2] ?? ""] ?? 1);
}

/** cpu in whole millicores (rounded up, as the scheduler does), other resources in base units. */
export function resourceAmount(resource: string, value: unknown): number {
  const v = quantityValue(value) ?? 0;
  return resource === "cpu" ? Math.ceil(Math.round(v * 1e6) / 1e3) : Math.ceil(v);
}
