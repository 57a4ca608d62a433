import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { TokenIssuer, TokenSubject } from '../auth/tokens/types.ts';
import { ApiError } from '../errors.ts';
import { issueServiceAccountToken, tokenRequestSpec } from './token-request.ts';

function refusal(run: () => unknown): ApiError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ApiError);
    return error as ApiError;
  }
  throw new Error('not refused');
}

const request = (spec: unknown) => ({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });

describe('tokenRequestSpec', () => {
  it('defaults to one hour for the server audience', () => {
    expect(tokenRequestSpec(request(undefined), 'robot')).toEqual({ audiences: ['photoncloud'], expirationSeconds: 3600 });
    expect(tokenRequestSpec({}, 'robot')).toEqual({ audiences: ['photoncloud'], expirationSeconds: 3600 });
    expect(tokenRequestSpec(request({ audiences: ['photoncloud'], expirationSeconds: 600 }), 'robot')).toEqual({ audiences: ['photoncloud'], expirationSeconds: 600 });
    expect(tokenRequestSpec(request({ expirationSeconds: 48 * 3600 }), 'robot').expirationSeconds).toBe(48 * 3600);
  });

  it('refuses lifetimes outside 10 minutes to 48 hours (422 naming spec.expirationSeconds)', () => {
    const short = refusal(() => tokenRequestSpec(request({ expirationSeconds: 599 }), 'robot'));
    expect(short.code).toBe(422);
    expect(short.message).toBe('TokenRequest.authentication.k8s.io "robot" is invalid: spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes');
    const long = refusal(() => tokenRequestSpec(request({ expirationSeconds: 48 * 3600 + 1 }), 'robot'));
    expect(long.code).toBe(422);
    expect(long.details?.causes).toEqual([expect.objectContaining({ field: 'spec.expirationSeconds', message: expect.stringContaining('longer than 48 hours') })]);
  });

  it('refuses audiences other than the server (422), bound tokens (422) and malformed values (400)', () => {
    const audience = refusal(() => tokenRequestSpec(request({ audiences: ['photoncloud', 'https://kubernetes.default.svc'] }), 'robot'));
    expect(audience.code).toBe(422);
    expect(audience.details?.causes).toEqual([{ field: 'spec.audiences[1]', reason: 'FieldValueNotSupported', message: 'Unsupported value: "https://kubernetes.default.svc": supported values: "photoncloud"' }]);
    expect(refusal(() => tokenRequestSpec(request({ boundObjectRef: { kind: 'Pod', name: 'p' } }), 'robot')).code).toBe(422);
    expect(refusal(() => tokenRequestSpec(request({ expirationSeconds: 'an hour' }), 'robot')).message).toContain('spec.expirationSeconds');
    expect(refusal(() => tokenRequestSpec(request({ expirationSeconds: 3600.5 }), 'robot')).code).toBe(400);
    expect(refusal(() => tokenRequestSpec(request({ audiences: 'photoncloud' }), 'robot')).message).toContain('spec.audiences');
    expect(refusal(() => tokenRequestSpec({ kind: 'ServiceAccount' }, 'robot')).code).toBe(400);
    expect(refusal(() => tokenRequestSpec('token please', 'robot')).code).toBe(400);
  });
});

describe('issueServiceAccountToken', () => {
  it('issues for the ServiceAccount by uid and fills in status', () => {
    const issued: Array<{ subject: TokenSubject; seconds: number; audiences?: string[] }> = [];
    const issuer: TokenIssuer = {
      issue(subject, seconds, audiences) {
        issued.push({ subject, seconds, audiences });
        return { token: 'a.b.c', expiresAt: new Date('2026-01-01T01:20:00.000Z') };
      },
    };
    const serviceAccount: KubeObject = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'robot', namespace: 'ns', uid: 'uid-1' } };
    const result = issueServiceAccountToken(issuer, serviceAccount, { audiences: ['photoncloud'], expirationSeconds: 1200 }, new Date('2026-01-01T01:00:00.123Z'));
    expect(issued).toEqual([{ subject: { kind: 'serviceaccount', namespace: 'ns', name: 'robot', uid: 'uid-1' }, seconds: 1200, audiences: ['photoncloud'] }]);
    expect(result).toEqual({
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: { name: 'robot', namespace: 'ns', creationTimestamp: '2026-01-01T01:00:00Z' },
      spec: { audiences: ['photoncloud'], expirationSeconds: 1200 },
      status: { token: 'a.b.c', expirationTimestamp: '2026-01-01T01:20:00Z' },
    });
  });
});
