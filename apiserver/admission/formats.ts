// String and number formats a CRD schema may name (the list Kubernetes' apiextensions validation knows).
// Unknown formats are ignored, as Kubernetes does, so user CRDs with exotic formats still load.
import net from 'node:net';
import type { Ajv } from 'ajv';
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

const MAC = /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{2}-){5}[0-9a-fA-F]{2}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const GO_DURATION = /^[-+]?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$/;

export const KNOWN_FORMATS = new Set([
  'ipv4', 'ipv6', 'cidr', 'mac', 'hostname', 'uri', 'email', 'uuid', 'uuid3', 'uuid4', 'uuid5',
  'byte', 'password', 'date', 'date-time', 'datetime', 'duration', 'int32', 'int64', 'float', 'double',
]);

export function registerFormats(ajv: Ajv): void {
  addFormats(ajv, ['date-time', 'date', 'uri', 'email', 'hostname', 'byte']);
  ajv.addFormat('ipv4', { type: 'string', validate: (value: string) => net.isIPv4(value) });
  ajv.addFormat('ipv6', { type: 'string', validate: (value: string) => net.isIPv6(value) });
  ajv.addFormat('cidr', { type: 'string', validate: isCidr });
  ajv.addFormat('mac', MAC);
  for (const name of ['uuid', 'uuid3', 'uuid4', 'uuid5']) ajv.addFormat(name, UUID);
  ajv.addFormat('password', { type: 'string', validate: () => true });
  ajv.addFormat('datetime', { type: 'string', validate: (value: string) => !Number.isNaN(Date.parse(value)) });
  ajv.addFormat('duration', GO_DURATION);
  ajv.addFormat('int32', { type: 'number', validate: (value: number) => Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isSafeInteger(value) });
  ajv.addFormat('float', { type: 'number', validate: () => true });
  ajv.addFormat('double', { type: 'number', validate: () => true });
}
