import { describe, expect, it } from '@jest/globals';
import { createHmac, createPublicKey, generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { CLOCK_SKEW_SECONDS, JwtError, looksLikeJwt, signJwt, SUBJECT_CLAIM, verifyJwt, type JwtClaims } from './jwt.ts';
import { keyIdOf } from './keys.ts';

const NOW = 1_900_000_000;

function newKey(): { kid: string; privateKey: KeyObject; publicKey: KeyObject } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKey = createPublicKey(privateKey);
  return { kid: keyIdOf(publicKey), privateKey, publicKey };
}

const key = newKey();
const otherKey = newKey();

function claims(overrides: Partial<JwtClaims> = {}): JwtClaims {
  return {
    iss: 'photoncloud',
    sub: 'alice',
    aud: ['photoncloud'],
    exp: NOW + 3600,
    iat: NOW,
    nbf: NOW,
    jti: randomUUID(),
    [SUBJECT_CLAIM]: { kind: 'user', name: 'alice' },
    ...overrides,
  };
}

const options = (now = NOW) => ({ keyFor: (kid: string) => (kid === key.kid ? key.publicKey : undefined), audience: 'photoncloud', issuer: 'photoncloud', now });

function refusal(token: string, now = NOW): JwtError['reason'] {
  try {
    verifyJwt(token, options(now));
  } catch (error) {
    if (error instanceof JwtError) return error.reason;
    throw error;
  }
  throw new Error('the token verified');
}

const segment = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const parts = (token: string) => token.split('.') as [string, string, string];

describe('JWT (ES256 compact JWS)', () => {
  it('verifies what it signs, with a header naming ES256 and the key id', () => {
    const token = signJwt(claims(), key);
    expect(looksLikeJwt(token)).toBe(true);
    expect(JSON.parse(Buffer.from(parts(token)[0], 'base64url').toString())).toEqual({ alg: 'ES256', typ: 'JWT', kid: key.kid });
    expect(verifyJwt(token, options())).toMatchObject({ sub: 'alice', [SUBJECT_CLAIM]: { kind: 'user', name: 'alice' } });
  });

  it('refuses a tampered signature, a tampered payload, and a signature by a key it does not hold under that kid', () => {
    const [header, payload, signature] = parts(signJwt(claims(), key));
    const flipped = Buffer.from(signature, 'base64url');
    flipped[10] ^= 0x01;
    expect(refusal(`${header}.${payload}.${flipped.toString('base64url')}`)).toBe('signature');
    expect(refusal(`${header}.${segment(claims({ sub: 'admin' }))}.${signature}`)).toBe('signature');
    // Signed by another key but claiming ours.
    const [, , foreignSignature] = parts(signJwt(claims(), { kid: key.kid, privateKey: otherKey.privateKey }));
    expect(refusal(`${header}.${payload}.${foreignSignature}`)).toBe('signature');
    // A DER signature (what node:crypto emits by default) is not a JWS signature.
    expect(refusal(`${header}.${payload}.${Buffer.alloc(70, 1).toString('base64url')}`)).toBe('signature');
  });

  it('refuses alg none, HS256 keyed with the public key, and any algorithm but ES256', () => {
    const payload = segment(claims());
    expect(refusal(`${segment({ alg: 'none', kid: key.kid })}.${payload}.AA`)).toBe('algorithm');
    const hsHeader = segment({ alg: 'HS256', kid: key.kid });
    const publicPem = key.publicKey.export({ type: 'spki', format: 'pem' });
    const hmac = createHmac('sha256', publicPem).update(`${hsHeader}.${payload}`).digest('base64url');
    expect(refusal(`${hsHeader}.${payload}.${hmac}`)).toBe('algorithm');
    for (const alg of ['ES384', 'RS256', 'es256', '']) {
      const [, , signature] = parts(signJwt(claims(), key));
      expect([alg, refusal(`${segment({ alg, kid: key.kid })}.${payload}.${signature}`)]).toEqual([alg, 'algorithm']);
    }
  });

  it('refuses an unknown or missing key id (a removed key)', () => {
    expect(refusal(signJwt(claims(), otherKey))).toBe('unknown-key');
    const [, payload, signature] = parts(signJwt(claims(), key));
    expect(refusal(`${segment({ alg: 'ES256' })}.${payload}.${signature}`)).toBe('unknown-key');
  });

  it('refuses an expired token once past the clock skew, and a token not valid yet', () => {
    const token = signJwt(claims({ exp: NOW + 60 }), key);
    expect(verifyJwt(token, options(NOW + 60 + CLOCK_SKEW_SECONDS)).sub).toBe('alice');
    expect(refusal(token, NOW + 61 + CLOCK_SKEW_SECONDS)).toBe('expired');
    expect(refusal(signJwt(claims({ nbf: NOW + CLOCK_SKEW_SECONDS + 5 }), key))).toBe('not-yet-valid');
    expect(refusal(signJwt(claims({ iat: NOW + CLOCK_SKEW_SECONDS + 5, nbf: NOW }), key))).toBe('not-yet-valid');
    expect(verifyJwt(signJwt(claims({ nbf: NOW + CLOCK_SKEW_SECONDS - 1 }), key), options()).sub).toBe('alice');
    const { exp: _exp, ...withoutExp } = claims();
    expect(refusal(signJwt(withoutExp as JwtClaims, key))).toBe('claims');
  });

  it('refuses a token for another audience or from another issuer', () => {
    expect(refusal(signJwt(claims({ aud: ['vault'] }), key))).toBe('audience');
    expect(refusal(signJwt(claims({ aud: [] }), key))).toBe('audience');
    expect(verifyJwt(signJwt(claims({ aud: ['vault', 'photoncloud'] }), key), options()).sub).toBe('alice');
    expect(refusal(signJwt(claims({ iss: 'someone-else' }), key))).toBe('issuer');
  });

  it('refuses what is not a compact JWS or not JSON', () => {
    expect(looksLikeJwt('abc')).toBe(false);
    expect(looksLikeJwt('a.b.c.d')).toBe(false);
    expect(refusal('a.b.c')).toBe('malformed');
    expect(refusal(`${Buffer.from('not json').toString('base64url')}.${segment(claims())}.AA`)).toBe('malformed');
  });
});
