// String and number formats a CRD schema may name (the list Kubernetes' apiextensions validation knows).
// Unknown formats are ignored, as Kubernetes does, so user CRDs with exotic formats still load.
// Every format runs in time linear in the value (checked against 1 MB adversarial values in formats.test.ts);
// the timestamp and duration formats, which split the whole value first or backtrack over all of it (233 ms
// and 138 ms for a 1 MB value), refuse values longer than any real timestamp or duration before looking;
// `byte` is a one-pass scan instead of ajv-formats' multiline regex (181 ms for 1 MB, and it accepted any
// value with one valid line, such as "!!!\n").
import net from 'node:net';
import type { Ajv, Format } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS; under ESM its function may sit on .default.
type AddFormats = (ajv: Ajv, formats: string[]) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ?? addFormatsModule) as unknown as AddFormats;

export function isCidr(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash < 0) return false;
  const address = value.slice(0, slash);
  const prefix = value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefix)) return false;
  const bits = Number(prefix);
  if (net.isIPv4(address)) return bits <= 32;
  if (net.isIPv6(address)) return bits <= 128;
  return false;
}

const BASE64_ALPHABET = new Uint8Array(128);
for (const char of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') BASE64_ALPHABET[char.charCodeAt(0)] = 1;
const [NEWLINE, CARRIAGE_RETURN, PAD] = ['\n', '\r', '='].map((char) => char.charCodeAt(0));

/**
 * Base64 as Kubernetes' `byte` format reads it (Go's base64.StdEncoding): the standard alphabet, padded to a
 * multiple of four with at most two '=' at the end; '\r' and '\n' are ignored. One pass, no backtracking.
 */
export function isBase64(value: string): boolean {
  let length = 0;
  let padding = 0;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code === NEWLINE || code === CARRIAGE_RETURN) continue;
    length++;
    if (code === PAD) padding++;
    else if (padding > 0 || code >= 128 || BASE64_ALPHABET[code] !== 1) return false;
  }
  return length % 4 === 0 && padding <= 2;
}

const MAC = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{2}-){5}[0-9a-fA-F]{2}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const GO_DURATION = /^[-+]?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$/;

export const KNOWN_FORMATS = new Set([
  'ipv4', 'ipv6', 'cidr', 'mac', 'hostname', 'uri', 'email', 'uuid', 'uuid3', 'uuid4', 'uuid5',
  'byte', 'password', 'date', 'date-time', 'datetime', 'duration', 'int32', 'int64', 'float', 'double',
]);

/** Longest timestamp accepted: RFC 3339 with nanoseconds and an offset is 35 characters. */
export const MAX_TIMESTAMP_LENGTH = 64;
/** Longest duration accepted: the longest Go duration, 2562047h47m16.854775807s, is 24 characters. */
export const MAX_DURATION_LENGTH = 128;

/** A string format's check as a function, whichever way ajv holds it. */
function stringCheck(format: Format | undefined, name: string): (value: string) => boolean {
  const check = typeof format === 'object' && !(format instanceof RegExp) ? format.validate : format;
  if (check instanceof RegExp) return (value) => check.test(value);
  if (typeof check === 'function') return (value) => (check as (value: string) => boolean)(value);
  throw new Error(`format ${name} has no string check`);
}

/** Replaces a registered format with one that refuses values over maxLength before checking them. */
function limitLength(ajv: Ajv, name: string, maxLength: number): void {
  const check = stringCheck(ajv.formats[name] as Format | undefined, name);
  ajv.addFormat(name, { type: 'string', validate: (value: string) => value.length <= maxLength && check(value) });
}

export function registerFormats(ajv: Ajv): void {
  addFormats(ajv, ['date-time', 'date', 'uri', 'email', 'hostname']);
  ajv.addFormat('byte', { type: 'string', validate: isBase64 });
  limitLength(ajv, 'date-time', MAX_TIMESTAMP_LENGTH);
  limitLength(ajv, 'date', MAX_TIMESTAMP_LENGTH);
  ajv.addFormat('ipv4', { type: 'string', validate: (value: string) => net.isIPv4(value) });
  ajv.addFormat('ipv6', { type: 'string', validate: (value: string) => net.isIPv6(value) });
  ajv.addFormat('cidr', { type: 'string', validate: isCidr });
  ajv.addFormat('mac', MAC);
  for (const name of ['uuid', 'uuid3', 'uuid4', 'uuid5']) ajv.addFormat(name, UUID);
  ajv.addFormat('password', { type: 'string', validate: () => true });
  ajv.addFormat('datetime', { type: 'string', validate: (value: string) => value.length <= MAX_TIMESTAMP_LENGTH && !Number.isNaN(Date.parse(value)) });
  ajv.addFormat('duration', { type: 'string', validate: (value: string) => value.length <= MAX_DURATION_LENGTH && GO_DURATION.test(value) });
  ajv.addFormat('int32', { type: 'number', validate: (value: number) => Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isSafeInteger(value) });
  ajv.addFormat('float', { type: 'number', validate: () => true });
  ajv.addFormat('double', { type: 'number', validate: () => true });
}
