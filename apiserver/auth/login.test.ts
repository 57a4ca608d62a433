import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../errors.ts';
import { DEFAULT_LOGIN_EXPIRATION_SECONDS, parseLoginRequest } from './login.ts';

const parse = (body: unknown) => parseLoginRequest(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));

function refusal(body: unknown): { code: number; message: string; field?: string } {
  try {
    parse(body);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return { code: error.code, message: error.message, field: error.details?.causes?.[0]?.field };
  }
  throw new Error('accepted');
}

describe('parseLoginRequest', () => {
  it('accepts a name and password, the expiration defaulting to 24h', () => {
    expect(parse({ username: 'alice', password: 'pw' })).toEqual({ username: 'alice', password: 'pw', expirationSeconds: DEFAULT_LOGIN_EXPIRATION_SECONDS });
    expect(parse({ username: 'alice', password: 'pw', expirationSeconds: 3600 }).expirationSeconds).toBe(3600);
  });

  it('answers 400 naming the field that is wrong', () => {
    expect(refusal('{"username":')).toMatchObject({ code: 400, message: 'the body is not valid JSON' });
    expect(refusal(['alice'])).toMatchObject({ code: 400, message: 'the body must be a JSON object' });
    expect(refusal({ password: 'pw' })).toMatchObject({ code: 400, field: 'username' });
    expect(refusal({ username: 'Alice', password: 'pw' })).toMatchObject({ code: 400, field: 'username' });
    expect(refusal({ username: 'a'.repeat(64), password: 'pw' })).toMatchObject({ code: 400, field: 'username' });
    expect(refusal({ username: 'alice' })).toMatchObject({ code: 400, field: 'password' });
    expect(refusal({ username: 'alice', password: 7 })).toMatchObject({ code: 400, field: 'password' });
    expect(refusal({ username: 'alice', password: 'x'.repeat(1025) })).toMatchObject({ code: 400, field: 'password' });
    expect(refusal({ username: 'alice', password: 'pw', expirationSeconds: '3600' })).toMatchObject({ code: 400, field: 'expirationSeconds' });
    expect(refusal({ username: 'alice', password: 'pw', expirationSeconds: 1.5 })).toMatchObject({ code: 400, field: 'expirationSeconds' });
    expect(refusal({ username: 'alice', password: 'pw', expirationSeconds: 599 })).toMatchObject({ code: 400, field: 'expirationSeconds' });
    expect(refusal({ username: 'alice', password: 'pw', expirationSeconds: 30 * 86400 + 1 })).toMatchObject({ code: 400, field: 'expirationSeconds', message: expect.stringContaining('at most 2592000') });
    expect(refusal({ user: 'alice', password: 'pw' })).toMatchObject({ code: 400, field: 'user', message: expect.stringContaining('unknown field') });
  });
});
