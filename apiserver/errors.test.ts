import { describe, expect, it } from '@jest/globals';
import { alreadyExists, ApiError, badRequest, conflict, expired, forbidden, internalError, invalid, methodNotAllowed, notFound, qualifiedResource, requestEntityTooLarge, routeNotFound, unauthorized, truncateEcho, unsupportedMediaType } from './errors.ts';

describe('Status shapes', () => {
  it('404 NotFound: kubectl prints `vpcs.<group> "x" not found`; details.kind is the plural', () => {
    expect(notFound('vpcs', 'network.photoncloud.io', 'x').toStatus()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'vpcs.network.photoncloud.io "x" not found',
      reason: 'NotFound',
      details: { name: 'x', group: 'network.photoncloud.io', kind: 'vpcs' },
      code: 404,
    });
  });

  it('the core group is left out of messages and details', () => {
    const status = notFound('namespaces', '', 'prod').toStatus();
    expect(status.message).toBe('namespaces "prod" not found');
    expect(status.details).toEqual({ name: 'prod', kind: 'namespaces' });
    expect(JSON.parse(JSON.stringify(status)).details).not.toHaveProperty('group');
    expect(qualifiedResource('namespaces', '')).toBe('namespaces');
    expect(qualifiedResource('vpcs', 'network.photoncloud.io')).toBe('vpcs.network.photoncloud.io');
  });

  it('409 AlreadyExists and Conflict', () => {
    expect(alreadyExists('vpcs', 'network.photoncloud.io', 'x').toStatus()).toMatchObject({ code: 409, reason: 'AlreadyExists', message: 'vpcs.network.photoncloud.io "x" already exists', details: { kind: 'vpcs', name: 'x' } });
    expect(conflict('vpcs', 'network.photoncloud.io', 'x').toStatus()).toMatchObject({
      code: 409,
      reason: 'Conflict',
      message: 'Operation cannot be fulfilled on vpcs.network.photoncloud.io "x": the object has been modified; please apply your changes to the latest version and try again',
    });
    expect(conflict('namespaces', '', 'p', 'it is terminating').message).toBe('Operation cannot be fulfilled on namespaces "p": it is terminating');
  });

  it('422 Invalid with one cause: the cause is the message', () => {
    const error = invalid('Vpc', 'network.photoncloud.io', 'x', [{ field: 'spec.cidr', reason: 'FieldValueInvalid', message: 'Invalid value: "a": must be a CIDR' }]);
    expect(error.toStatus()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Vpc.network.photoncloud.io "x" is invalid: spec.cidr: Invalid value: "a": must be a CIDR',
      reason: 'Invalid',
      details: { name: 'x', group: 'network.photoncloud.io', kind: 'Vpc', causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: "a": must be a CIDR', field: 'spec.cidr' }] },
      code: 422,
    });
  });

  it('422 Invalid with several causes lists them in brackets', () => {
    const error = invalid('Namespace', '', 'x', [
      { field: 'metadata.name', reason: 'FieldValueInvalid', message: 'Invalid value: "X": bad' },
      { field: 'spec.a', reason: 'FieldValueRequired', message: 'Required value' },
    ]);
    expect(error.message).toBe('Namespace "x" is invalid: [metadata.name: Invalid value: "X": bad, spec.a: Required value]');
    expect(error.details?.causes).toHaveLength(2);
    expect(error.details?.group).toBeUndefined();
  });

  it('errors without details carry none', () => {
    const status = badRequest('nope').toStatus();
    expect(status).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'nope', reason: 'BadRequest', code: 400 });
    expect(routeNotFound().toStatus()).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', code: 404 });
    expect(forbidden('no').toStatus()).not.toHaveProperty('details');
  });

  it('other codes and reasons', () => {
    expect([unauthorized(), methodNotAllowed('POST'), requestEntityTooLarge(10), expired('too old'), internalError('boom')].map((error) => [error.code, error.reason, error.message])).toEqual([
      [401, 'Unauthorized', 'Unauthorized'],
      [405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource (POST)'],
      [413, 'RequestEntityTooLarge', 'Request entity too large: limit is 10'],
      [410, 'Expired', 'too old'],
      [500, 'InternalError', 'Internal error occurred: boom'],
    ]);
    expect(forbidden('denied', { plural: 'vpcs', group: 'network.photoncloud.io', name: 'x' }).toStatus().details).toEqual({ name: 'x', group: 'network.photoncloud.io', kind: 'vpcs' });
    expect(unsupportedMediaType('text/plain', ['application/json']).toStatus()).toMatchObject({ code: 415, reason: 'UnsupportedMediaType' });
  });

  it('ApiError is an Error with its name', () => {
    const error = new ApiError(418, 'Teapot', 'short and stout');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ApiError');
    expect(error.message).toBe('short and stout');
  });
});

describe('echo bounds', () => {
  it('truncates long echoes and survives non-string values a client sent where a string belongs', () => {
    expect(truncateEcho('x'.repeat(10), 4)).toBe('xxxx... (6 more characters)');
    expect(truncateEcho(9007199254740992 as unknown as string, 100)).toBe('9007199254740992');
    const error = invalid('Namespace', '', 5 as unknown as string, [{ field: 'metadata.name', reason: 'FieldValueInvalid', message: 'Invalid value: 5' }]);
    expect(error.code).toBe(422);
    expect(error.message).toBe('Namespace "5" is invalid: metadata.name: Invalid value: 5');
  });
});
