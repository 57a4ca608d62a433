// What makes a Zone's records knowably wrong, whatever else exists: each value checked for its type, names
// inside the zone, CNAME alone at its name. Shared by admission (422 naming the field,
// apiserver/admission/dns.ts) and the Zone controller (which never serves what admission would refuse).
import net from 'node:net';
import type { ZoneSpec } from './zone.ts';

export interface ZoneProblem {
  /** spec.records[2].values[0], … */
  field: string;
  value: string;
  message: string;
}

const LABEL = /^[a-z0-9_]([-a-z0-9_]*[a-z0-9_])?$/;
/** A fully-qualified host name as record data: labels, trailing dot (case-insensitive). */
const FQDN = /^([a-z0-9_]([-a-z0-9_]*[a-z0-9_])?\.)+$/i;
const MAX_NAME = 253;

/** The fully-qualified owner name of a relative record name ("@" is the apex). */
export function absoluteName(relative: string, domain: string): string {
  return relative === '@' ? domain : `${relative}.${domain}`;
}

const u16 = (text: string | undefined) => text !== undefined && /^\d{1,5}$/.test(text) && Number(text) <= 65535;

/** Why one value is wrong for its type, or undefined. */
export function recordValueProblem(type: string, value: string): string | undefined {
  const fields = value.trim().split(/\s+/);
  const hostname = (name: string | undefined) => name !== undefined && name.length <= MAX_NAME + 1 && (FQDN.test(name) || name === '.') && name.split('.').every((label) => label.length <= 63);
  switch (type) {
    case 'A':
      return net.isIPv4(value) ? undefined : 'must be an IPv4 address, e.g. 10.0.1.5';
    case 'AAAA':
      // Node accepts a zone index (fe80::1%eth0); record data cannot carry one.
      return net.isIPv6(value) && !value.includes('%') ? undefined : 'must be an IPv6 address, e.g. fd00::5';
    case 'CNAME':
    case 'PTR':
    case 'NS':
      return fields.length === 1 && hostname(fields[0]) && value !== '.' ? undefined : 'must be one fully-qualified host name with the trailing dot, e.g. web.acme.internal.';
    case 'MX':
      return fields.length === 2 && u16(fields[0]) && hostname(fields[1]) ? undefined : 'must be "<preference 0-65535> <fully-qualified host>.", e.g. "10 mail.acme.internal."';
    case 'SRV':
      return fields.length === 4 && u16(fields[0]) && u16(fields[1]) && u16(fields[2]) && hostname(fields[3])
        ? undefined
        : 'must be "<priority> <weight> <port> <fully-qualified target>." with numbers 0-65535, e.g. "10 5 389 ldap.acme.internal."';
    case 'TXT':
      // Printable ASCII only: no control characters to smuggle into a zone file or a log.
      return /^[\x20-\x7e]*$/.test(value) ? undefined : 'must be printable ASCII text (unquoted)';
    default:
      return `record type ${type} is not supported`;
  }
}

/** Every problem of a Zone's spec, in field order. */
export function zoneSpecProblems(spec: ZoneSpec | undefined): ZoneProblem[] {
  if (!spec?.domain) return [];
  const problems: ZoneProblem[] = [];
  const { domain } = spec;
  if (domain.length > MAX_NAME + 1 || domain.split('.').some((label, index, labels) => label.length > 63 || (label === '' && index !== labels.length - 1))) {
    problems.push({ field: 'spec.domain', value: domain, message: 'must be a domain name of labels of at most 63 characters, 253 in all' });
  }
  if (domain.split('.').length < 3) problems.push({ field: 'spec.domain', value: domain, message: 'must have at least two labels (a top-level domain cannot be a zone)' });
  const typesAt = new Map<string, string[]>();
  (spec.records ?? []).forEach((record, index) => {
    const at = `spec.records[${index}]`;
    const name = absoluteName(record.name, domain);
    if (record.name !== '@' && record.name.split('.').some((label, index) => !(label === '*' && index === 0) && !LABEL.test(label))) {
      problems.push({ field: `${at}.name`, value: record.name, message: 'must be "@" or labels of letters, digits, "-" and "_" (a leading "*" for a wildcard)' });
    } else if (name.length > MAX_NAME + 1 || record.name.split('.').some((label) => label.length > 63)) {
      problems.push({ field: `${at}.name`, value: record.name, message: `makes ${name}, longer than a domain name may be (253 characters, 63 per label)` });
    }
    typesAt.set(name, [...(typesAt.get(name) ?? []), record.type]);
    if (record.type === 'CNAME' && record.values.length !== 1) problems.push({ field: `${at}.values`, value: JSON.stringify(record.values), message: 'a CNAME holds exactly one value' });
    if (record.type === 'CNAME' && record.name === '@') problems.push({ field: `${at}.name`, value: record.name, message: 'a CNAME cannot be at the apex (the zone\'s SOA and NS are there)' });
    if (record.type === 'NS' && record.name.startsWith('*')) problems.push({ field: `${at}.name`, value: record.name, message: 'a delegation (NS) cannot be a wildcard' });
    record.values.forEach((value, valueIndex) => {
      const problem = recordValueProblem(record.type, value);
      if (problem) problems.push({ field: `${at}.values[${valueIndex}]`, value, message: problem });
    });
  });
  (spec.records ?? []).forEach((record, index) => {
    const name = absoluteName(record.name, domain);
    if (record.type === 'CNAME' && (typesAt.get(name) ?? []).length > 1) {
      problems.push({ field: `spec.records[${index}].type`, value: record.type, message: `${name} has a CNAME and other records; a CNAME must be alone at its name` });
    }
  });
  (spec.delegations ?? []).forEach((delegation, index) => {
    const name = absoluteName(delegation.name, domain);
    if (name.length > MAX_NAME + 1) problems.push({ field: `spec.delegations[${index}].name`, value: delegation.name, message: `makes ${name}, longer than a domain name may be` });
  });
  return problems;
}
