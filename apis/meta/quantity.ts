// Byte sizes written as Kubernetes quantities (`20Gi`, `100M`, `1.5Gi`, `512`), as the CRDs' size fields
// accept them (pattern ^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$). Node agents size disks with it
// and may not import the API server's general parser (apiserver/quota/quantity.ts, which also takes milli
// units and exponents for quota sums). Computed in BigInt so `0.1Gi` is exact before rounding: a fraction of
// a byte rounds up, as resource.Quantity.Value() does, and nothing beyond 2^53 (8 PiB) is accepted rather
// than rounded.
const MULTIPLIER: Record<string, bigint> = {
  '': 1n,
  k: 10n ** 3n,
  M: 10n ** 6n,
  G: 10n ** 9n,
  T: 10n ** 12n,
  P: 10n ** 15n,
  E: 10n ** 18n,
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const BYTES = /^([0-9]{1,30})(?:\.([0-9]{1,30}))?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;

/** The number of bytes a size quantity stands for (fractions of a byte rounded up), or undefined when it is not one. */
export function parseByteQuantity(text: unknown): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) && text >= 0 ? text : undefined;
  if (typeof text !== 'string') return undefined;
  const match = BYTES.exec(text);
  if (!match) return undefined;
  const [, whole, fraction = '', suffix = ''] = match;
  const scale = 10n ** BigInt(fraction.length);
  const numerator = (BigInt(whole) * scale + BigInt(fraction || '0')) * MULTIPLIER[suffix];
  const bytes = (numerator + scale - 1n) / scale;
  return bytes <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(bytes) : undefined;
}
