// Kubernetes resource quantities (`10`, `1.5`, `500m`, `4Gi`, `2e3`, `100M`), as numbers in base units, for
// ResourceQuota and the VirtualMachine fields quota sums. Parsing is bounded by the 64-character limit on
// input; values beyond what a double holds exactly (2^53 bytes is 8 PiB) are refused rather than rounded.
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d{1,3}))?$/;

/** The value of a quantity in base units, or undefined when it is not one. */
export function parseQuantity(text: unknown): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) ? text : undefined;
  if (typeof text !== 'string' || text.length > 64) return undefined;
  const match = QUANTITY.exec(text.trim());
  if (!match) return undefined;
  const [, number, suffix = '', exponent] = match;
  const value = Number(number) * (exponent !== undefined ? 10 ** Number(exponent) : (BINARY[suffix] ?? DECIMAL[suffix]));
  return Number.isFinite(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER ? value : undefined;
}

/**
 * A value written like `like` (the hard limit it is compared with): `4Gi` for 4 GiB when the limit is written
 * in binary units and the value divides evenly, `1500m` for 1.5, else plain decimal.
 */
export function formatQuantity(value: number, like?: string): string {
  if (!Number.isInteger(value)) return `${Math.round(value * 1000)}m`;
  if (like && /[KMGTPE]i$/.test(like) && value !== 0) {
    for (const suffix of ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki']) if (value % BINARY[suffix] === 0) return `${value / BINARY[suffix]}${suffix}`;
  }
  return String(value);
}
