import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, it, jest } from '@jest/globals';
import type { UserInfo } from '../auth/authenticate.ts';
import { ApiError } from '../errors.ts';
import { admitRequest, DEFAULT_FLOW_CONTROL_LIMITS, FlowControl, requestKind, type RequestKind, type Ticket } from './flow-control.ts';
import { sendError } from './respond.ts';

const user = (name: string, groups: string[] = []): UserInfo => ({ name, uid: '', groups: [...groups, 'system:authenticated'] });
const alice = user('alice');
const bob = user('bob');
const carol = user('carol');

/** Admits until refused (at most `max`), returning the tickets taken. */
function fill(flow: FlowControl, who: UserInfo, kind: RequestKind, max = 10_000): Ticket[] {
  const tickets: Ticket[] = [];
  for (let i = 0; i < max; i++) {
    try {
      tickets.push(flow.admit(who, kind));
    } catch {
      break;
    }
  }
  return tickets;
}

function refusal(call: () => unknown): ApiError {
  try {
    call();
  } catch (error) {
    return error as ApiError;
  }
  throw new Error('expected a refusal');
}

describe('flow control', () => {
  it('refuses a user over its watch limit with Kubernetes’ 429 TooManyRequests Status', () => {
    const flow = new FlowControl({ maxWatchesPerUser: 3, retryAfterSeconds: 2 });
    expect(fill(flow, alice, 'watch')).toHaveLength(3);
    const error = refusal(() => flow.admit(alice, 'watch'));
    expect(error.toStatus()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Too many requests, please try again later.',
      reason: 'TooManyRequests',
      details: { retryAfterSeconds: 2 },
      code: 429,
    });
    // Other users and other kinds are unaffected.
    expect(fill(flow, bob, 'watch')).toHaveLength(3);
    expect(() => flow.admit(alice, 'readonly').release()).not.toThrow();
  });

  it('frees a slot on release, once however often release is called', () => {
    const flow = new FlowControl({ maxWatchesPerUser: 2 });
    const [first] = fill(flow, alice, 'watch');
    first.release();
    first.release();
    expect(flow.inUse('watch', 'alice')).toBe(1);
    expect(fill(flow, alice, 'watch')).toHaveLength(1);
    expect(flow.inUse('watch')).toBe(2);
  });

  it('counts mutating and read-only requests together against the per-user in-flight limit', () => {
    const flow = new FlowControl({ maxRequestsInflightPerUser: 4 });
    expect(fill(flow, alice, 'mutating', 3)).toHaveLength(3);
    expect(fill(flow, alice, 'readonly')).toHaveLength(1);
    expect(() => flow.admit(alice, 'mutating')).toThrow(ApiError);
    // Watches are a budget of their own.
    expect(fill(flow, alice, 'watch', 5)).toHaveLength(5);
  });

  it('does not limit or count exempt groups (system:masters by default)', () => {
    const flow = new FlowControl({ maxWatchesPerUser: 1, maxWatches: 1 });
    const admin = user('admin', ['system:masters']);
    expect(fill(flow, admin, 'watch', 2000)).toHaveLength(2000);
    expect(flow.inUse('watch')).toBe(0);
    expect(fill(flow, alice, 'watch')).toHaveLength(1);
  });

  it('keeps a user to a fair share once the global budget is contended, so a newcomer is still served', () => {
    const flow = new FlowControl({ maxRequestsInflight: 100, maxRequestsInflightPerUser: 0 });
    // One user alone may take half the budget (its share, with one share kept for someone else) ...
    const hog = fill(flow, alice, 'readonly');
    expect(hog).toHaveLength(50);
    // ... so a second user is served, up to an equal share among three (two holders and a newcomer) ...
    expect(fill(flow, bob, 'readonly')).toHaveLength(33);
    // ... and a third one too.
    expect(fill(flow, carol, 'readonly').length).toBeGreaterThan(0);
    expect(flow.inUse('readonly')).toBeLessThanOrEqual(100);
  });

  it('never exceeds the global cap, however many users', () => {
    const flow = new FlowControl({ maxMutatingRequestsInflight: 20, maxRequestsInflightPerUser: 0 });
    let admitted = 0;
    for (let i = 0; i < 100; i++) admitted += fill(flow, user(`u${i}`), 'mutating').length;
    expect(admitted).toBe(20);
    expect(flow.inUse('mutating')).toBe(20);
  });

  it('below half the global budget only the per-user limit applies', () => {
    const flow = new FlowControl({ maxWatches: 100, maxWatchesPerUser: 40 });
    expect(fill(flow, alice, 'watch')).toHaveLength(40);
  });

  it('treats 0 as no limit, as kube-apiserver’s flags do', () => {
    const flow = new FlowControl({ maxWatches: 0, maxWatchesPerUser: 0 });
    expect(fill(flow, alice, 'watch', 3000)).toHaveLength(3000);
  });

  it('reports each refusal with its reason', () => {
    const onReject = jest.fn();
    const flow = new FlowControl({ maxWatchesPerUser: 1 }, onReject);
    fill(flow, alice, 'watch');
    expect(onReject).toHaveBeenCalledWith('watch', 'per-user-limit');
  });

  it('defaults leave room for a controller with many informers and for kubectl', () => {
    const flow = new FlowControl();
    expect(fill(flow, alice, 'watch', 40)).toHaveLength(40);
    expect(fill(flow, alice, 'readonly', 50)).toHaveLength(50);
    expect(DEFAULT_FLOW_CONTROL_LIMITS.exemptGroups).toContain('system:masters');
  });

  it('classifies requests by method and watch', () => {
    expect(requestKind('GET', true)).toBe('watch');
    expect(requestKind('GET', false)).toBe('readonly');
    expect(requestKind('HEAD', false)).toBe('readonly');
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) expect(requestKind(method, false)).toBe('mutating');
  });
});

describe('admitRequest', () => {
  const fakeResponse = () => Object.assign(new EventEmitter(), { headersSent: false, destroyed: false });

  it('frees the slot when the response closes', () => {
    const flow = new FlowControl({ maxWatchesPerUser: 1 });
    const response = fakeResponse();
    admitRequest(flow, alice, 'watch', response as unknown as ServerResponse);
    expect(flow.inUse('watch', 'alice')).toBe(1);
    response.emit('close');
    expect(flow.inUse('watch', 'alice')).toBe(0);
  });

  it('throws the 429 carrying its Retry-After seconds, and sendError sends them as the Retry-After header', () => {
    const flow = new FlowControl({ maxWatchesPerUser: 1, retryAfterSeconds: 3 });
    admitRequest(flow, alice, 'watch', fakeResponse() as unknown as ServerResponse);
    let refusal: unknown;
    try {
      admitRequest(flow, alice, 'watch', fakeResponse() as unknown as ServerResponse);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toMatchObject({ code: 429, message: 'Too many requests, please try again later.', details: { retryAfterSeconds: 3 } });
    const written: { headers?: Record<string, unknown> } = {};
    const response = { headersSent: false, writeHead: (_code: number, headers: Record<string, unknown>) => (written.headers = headers), end: () => undefined };
    sendError(response as unknown as ServerResponse, refusal as ApiError);
    expect(written.headers?.['Retry-After']).toBe('3');
  });

  it('does not keep a slot for a client that is already gone', () => {
    const flow = new FlowControl();
    const gone = Object.assign(fakeResponse(), { destroyed: true });
    admitRequest(flow, alice, 'watch', gone as unknown as ServerResponse);
    expect(flow.inUse('watch')).toBe(0);
  });
});
