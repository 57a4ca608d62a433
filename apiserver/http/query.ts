// Query parameters of resource requests, validated up front so bad values are 400s that name the parameter.
import { badRequest } from '../errors.ts';
import type { UserInfo } from '../auth/authenticate.ts';
import type { FieldValidation, WriteOptions } from '../registry/admit.ts';

export function booleanParam(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  if (value === null || value === '' || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw badRequest(`invalid value for ${name}: ${JSON.stringify(value)} (expected true or false)`);
}

export function integerParam(query: URLSearchParams, name: string, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min || Number(value) > max) throw badRequest(`invalid value for ${name}: ${JSON.stringify(value)} (expected an integer from ${min} to ${max})`);
  return Number(value);
}

export function writeOptions(query: URLSearchParams, userAgent?: string, user?: UserInfo): WriteOptions {
  const dryRun = query.getAll('dryRun');
  for (const value of dryRun) if (value !== 'All') throw badRequest(`Invalid dry run value: ${JSON.stringify(value)}: supported values: "All"`);
  const validation = query.get('fieldValidation') ?? 'Warn';
  const normalised = validation === '' ? 'Warn' : validation;
  if (!['Strict', 'Warn', 'Ignore'].includes(normalised)) {
    throw badRequest(`fieldValidation parameter unsupported: ${JSON.stringify(validation)}: supported values: "Ignore", "Warn", "Strict"`);
  }
  const fieldManager = query.get('fieldManager') ?? undefined;
  if (fieldManager !== undefined && (fieldManager.length > 128 || /[^\x20-\x7e]/.test(fieldManager))) {
    throw badRequest('fieldManager: Invalid value: must be at most 128 printable ASCII characters');
  }
  return { dryRun: dryRun.length > 0, fieldValidation: normalised as FieldValidation, fieldManager, userAgent, user, warnings: [] };
}
