// Accept-header negotiation for the alternative representations kubectl and client-go ask for.
export type Representation =
  | { as: 'object' }
  | { as: 'Table'; apiVersion: string }
  | { as: 'PartialObjectMetadata'; apiVersion: string };

interface MediaRange {
  type: string;
  params: Record<string, string>;
}

export function parseAccept(accept: string | undefined): MediaRange[] {
  if (!accept) return [];
  return accept.split(',').map((part) => {
    const [type, ...rawParams] = part.split(';').map((piece) => piece.trim());
    const params: Record<string, string> = {};
    for (const raw of rawParams) {
      const [key, value] = raw.split('=');
      if (key && value !== undefined) params[key.trim()] = value.trim();
    }
    return { type: type.toLowerCase(), params };
  });
}

/** The first representation in the Accept header the server can produce (object JSON when none). */
export function negotiateRepresentation(accept: string | undefined): Representation {
  for (const range of parseAccept(accept)) {
    const { as, g, v } = range.params;
    if (range.type !== 'application/json') continue;
    if (!as) return { as: 'object' };
    if (g !== 'meta.k8s.io' || (v !== 'v1' && v !== 'v1beta1')) continue;
    if (as === 'Table') return { as: 'Table', apiVersion: `meta.k8s.io/${v}` };
    if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return { as: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${v}` };
  }
  return { as: 'object' };
}

/** Whether the client accepts JSON (or YAML, or anything) at all: otherwise 406. */
export function acceptsJson(accept: string | undefined): boolean {
  const ranges = parseAccept(accept);
  if (ranges.length === 0) return true;
  return ranges.some((range) => ['application/json', 'application/*', '*/*', 'application/yaml'].includes(range.type));
}
