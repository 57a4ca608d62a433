// A small client of the PowerDNS Authoritative HTTP API (/api/v1/servers/localhost): zones listed, read,
// created, patched and deleted, each request bounded in time. A connection failure or a 5xx is
// DnsUnavailableError (the server is down or broken: retry later); a 4xx is DnsRequestError with the
// server's own message (the request is wrong: retrying will not help).
import type { RRset, RRsetChange } from './rrsets.ts';

export class DnsUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DnsUnavailableError';
  }
}

export class DnsRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'DnsRequestError';
  }
}

/** A zone as GET /zones lists it. */
export interface PowerDnsZoneSummary {
  id: string;
  name: string;
  account: string;
  serial: number;
}

/** A zone as GET /zones/{id} returns it. */
export interface PowerDnsZone extends PowerDnsZoneSummary {
  kind: string;
  /** Served record sets (disabled records left out). */
  rrsets: RRset[];
}

/** A zone on the wire: records are objects. */
type WireZone = Omit<PowerDnsZone, 'rrsets'> & { rrsets?: Array<{ name: string; type: string; ttl: number; records: Array<{ content: string; disabled?: boolean }> }> };

/** What POST /zones takes. */
export interface PowerDnsZoneCreate {
  name: string;
  kind: 'Native' | 'Master';
  account: string;
  /** Serial arithmetic applied on every API change (INCREASE: +1). */
  soa_edit_api: string;
  nameservers: string[];
  rrsets: RRsetChange[];
}

const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export class PowerDnsApi {
  private readonly base: string;

  constructor(
    url: string,
    private readonly apiKey: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = `${url.replace(/\/+$/, '')}/api/v1/servers/localhost`;
  }

  listZones(): Promise<PowerDnsZoneSummary[]> {
    return this.request('GET', '/zones') as Promise<PowerDnsZoneSummary[]>;
  }

  /** The zone with its records, or undefined when PowerDNS does not have it. */
  async getZone(name: string): Promise<PowerDnsZone | undefined> {
    try {
      const zone = (await this.request('GET', `/zones/${zoneId(name)}`)) as WireZone;
      // Disabled records are not served: to the caller they are not there.
      const rrsets = (zone.rrsets ?? []).map((set) => ({ name: set.name, type: set.type, ttl: set.ttl, records: set.records.filter((record) => !record.disabled).map((record) => record.content) }));
      return { ...zone, rrsets: rrsets.filter((set) => set.records.length > 0) };
    } catch (error) {
      if (error instanceof DnsRequestError && (error.status === 404 || error.status === 422)) return undefined;
      throw error;
    }
  }

  async createZone(zone: PowerDnsZoneCreate): Promise<void> {
    await this.request('POST', '/zones', zone);
  }

  /** Drops cached answers for the domain and every name under it (PowerDNS caches negative answers too). */
  async flushCache(name: string): Promise<void> {
    await this.request('PUT', `/cache/flush?domain=${encodeURIComponent(name)}`);
  }

  async patchZone(name: string, rrsets: RRsetChange[]): Promise<void> {
    await this.request('PATCH', `/zones/${zoneId(name)}`, { rrsets });
  }

  /** Deletes the zone; a zone already gone is not an error. */
  async deleteZone(name: string): Promise<void> {
    try {
      await this.request('DELETE', `/zones/${zoneId(name)}`);
    } catch (error) {
      if (error instanceof DnsRequestError && (error.status === 404 || error.status === 422)) return;
      throw error;
    }
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        method,
        headers: { 'X-API-Key': this.apiKey, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
        redirect: 'error',
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new DnsUnavailableError(`cannot reach the PowerDNS API at ${this.base}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    const text = await boundedText(response);
    if (response.status >= 500) throw new DnsUnavailableError(`PowerDNS API ${method} ${path}: ${response.status} ${errorText(text)}`);
    if (response.status === 401 || response.status === 403) throw new DnsUnavailableError(`PowerDNS API refused the API key (${response.status})`);
    if (response.status >= 400) throw new DnsRequestError(response.status, `PowerDNS API ${method} ${path}: ${response.status} ${errorText(text)}`);
    return text ? JSON.parse(text) : undefined;
  }
}

/** Zone ids are names with '/' escaped; PhotonCloud's domains never hold one, so the id is the name. */
const zoneId = (name: string) => encodeURIComponent(name);

async function boundedText(response: Response): Promise<string> {
  const length = Number(response.headers.get('content-length') ?? 0);
  if (length > MAX_RESPONSE_BYTES) throw new DnsUnavailableError(`PowerDNS API response of ${length} bytes is over the limit`);
  return response.text();
}

function errorText(text: string): string {
  try {
    return String((JSON.parse(text) as { error?: string }).error ?? text).slice(0, 500);
  } catch {
    return text.slice(0, 500);
  }
}
