// resource.Quantity values ("500m", "1.5", "128Mi", "1G", "1e3") as plain numbers, enough for QoS
// classes, requests-versus-limits checks and quota arithmetic.

const SUFFIXES: Record<string, number> = {
  n: 1e-9, u: 1e-6, m: 1e-3, "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

/** The numeric value of a quantity, or undefined if it is not one. */
export function parseQuantity(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const match = QUANTITY.exec(value.trim());
  if (!match) return undefined;
  const base = Number(match[1]);
  if (match[3] !== undefined) return base * 10 ** Number(match[3]);
  return base * (SUFFIXES[match[2] ?? ""] ?? 1);
}

/** Renders a number the way Kubernetes would print the quantity of this resource. */
export function formatQuantity(resource: string, value: number): string {
  const isCpu = resource === "cpu" || resource.endsWith(".cpu");
  if (isCpu) {
    const millis = Math.round(value * 1000);
    return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
  }
  if (!Number.isInteger(value)) return String(value);
  for (const suffix of ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"]) {
    const unit = SUFFIXES[suffix] as number;
    if (value !== 0 && value % unit === 0) return `${value / unit}${suffix}`;
  }
  return String(value);
}
