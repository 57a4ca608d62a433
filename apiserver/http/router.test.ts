import { describe, expect, it } from '@jest/globals';
import type { Logger } from '../../lib/logging.ts';
import { ApiError, badRequest } from '../errors.ts';
import { StorageError } from '../storage/types.ts';
import { toApiError } from './router.ts';

function capturingLogger(): { log: Logger; entries: Array<Record<string, unknown>> } {
  const entries: Array<Record<string, unknown>> = [];
  const record = (message: string, meta: Record<string, unknown> = {}) => entries.push({ message, ...meta });
  return { log: { error: record, warn: record, info: record } as unknown as Logger, entries };
}

describe('toApiError', () => {
  it('passes the server’s own client errors through unchanged', () => {
    const { log, entries } = capturingLogger();
    const error = badRequest('bad');
    expect(toApiError(error, log, {})).toBe(error);
    expect(entries).toEqual([]);
  });

  it('turns anything else — RangeError included — into a generic 500 whose id is logged with the details', () => {
    for (const thrown of [new RangeError('Maximum call stack size exceeded'), new TypeError("Cannot read properties of undefined (reading 'x')"), 'a string', { weird: true }]) {
      const { log, entries } = capturingLogger();
      const error = toApiError(thrown, log, { url: '/x' });
      expect(error).toBeInstanceOf(ApiError);
      expect(error.code).toBe(500);
      expect(error.message).toMatch(/^Internal error occurred: an internal error occurred; the server log has the details under error id [0-9a-f]{12}$/);
      expect(error.message).not.toMatch(/Maximum|Cannot read|string|weird/);
      const id = /error id ([0-9a-f]{12})/.exec(error.message)![1];
      expect(entries).toEqual([expect.objectContaining({ message: 'internal error', errorId: id, url: '/x' })]);
    }
  });

  it('answers a storage outage with a 503 that does not quote the storage error', () => {
    const { log, entries } = capturingLogger();
    const outage = new StorageError('Unavailable', 'connect ECONNREFUSED 10.0.0.1:2379');
    const error = toApiError(outage, log, {});
    expect(error.code).toBe(503);
    expect(error.message).not.toContain('ECONNREFUSED');
    expect(entries[0]).toMatchObject({ errorId: expect.stringMatching(/^[0-9a-f]{12}$/) });
  });
});
