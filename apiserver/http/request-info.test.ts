import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../errors.ts';
import { MAX_REQUEST_TARGET, parseRequestTarget, parseSegments } from './request-info.ts';

/** What a raw path addresses, as the router derives it. */
const parsePath = (path: string, method: string, watch: boolean) => parseSegments(parseRequestTarget(path).segments, method, watch);

const resource = (path: string, method = 'GET', watch = false) => {
  const parsed = parsePath(path, method, watch);
  if (parsed.type !== 'resource') throw new Error(`${path} parsed as ${parsed.type}`);
  return parsed.request;
};

describe('parsePath', () => {
  it('discovery roots and group versions', () => {
    expect(parsePath('/api', 'GET', false)).toEqual({ type: 'apiRoot' });
    expect(parsePath('/apis', 'GET', false)).toEqual({ type: 'apisRoot' });
    expect(parsePath('/apis/network.photoncloud.io', 'GET', false)).toEqual({ type: 'group', group: 'network.photoncloud.io' });
    expect(parsePath('/apis/network.photoncloud.io/v1alpha1', 'GET', false)).toEqual({ type: 'groupVersion', group: 'network.photoncloud.io', version: 'v1alpha1' });
    expect(parsePath('/api/v1', 'GET', false)).toEqual({ type: 'groupVersion', group: '', version: 'v1' });
    expect(parsePath('/api/v1/', 'GET', false)).toEqual({ type: 'groupVersion', group: '', version: 'v1' });
  });

  it('non-API paths are other', () => {
    expect(parsePath('/version', 'GET', false)).toEqual({ type: 'other', path: '/version' });
    expect(parsePath('/openapi/v3', 'GET', false)).toEqual({ type: 'other', path: '/openapi/v3' });
    expect(parsePath('/', 'GET', false)).toEqual({ type: 'other', path: '/' });
  });

  it('namespaced collections and objects in a named group', () => {
    expect(resource('/apis/network.photoncloud.io/v1alpha1/namespaces/prod/vpcs')).toEqual({ group: 'network.photoncloud.io', version: 'v1alpha1', namespace: 'prod', resource: 'vpcs', name: undefined, subresource: undefined, verb: 'list' });
    expect(resource('/apis/network.photoncloud.io/v1alpha1/namespaces/prod/vpcs/main')).toMatchObject({ namespace: 'prod', resource: 'vpcs', name: 'main', verb: 'get' });
    expect(resource('/apis/network.photoncloud.io/v1alpha1/namespaces/prod/vpcs/main/status', 'PUT')).toMatchObject({ namespace: 'prod', resource: 'vpcs', name: 'main', subresource: 'status', verb: 'update' });
  });

  it('cluster-scoped resources and all-namespace lists', () => {
    expect(resource('/apis/iam.photoncloud.io/v1alpha1/organizations/acme')).toEqual({ group: 'iam.photoncloud.io', version: 'v1alpha1', namespace: undefined, resource: 'organizations', name: 'acme', subresource: undefined, verb: 'get' });
    expect(resource('/apis/network.photoncloud.io/v1alpha1/vpcs')).toMatchObject({ namespace: undefined, resource: 'vpcs', verb: 'list' });
  });

  it('core group paths', () => {
    expect(resource('/api/v1/namespaces')).toEqual({ group: '', version: 'v1', namespace: undefined, resource: 'namespaces', name: undefined, subresource: undefined, verb: 'list' });
    expect(resource('/api/v1/namespaces/prod/configmaps/a')).toMatchObject({ group: '', namespace: 'prod', resource: 'configmaps', name: 'a' });
  });

  it('a namespace itself, and its status and finalize subresources', () => {
    expect(resource('/api/v1/namespaces/prod')).toMatchObject({ namespace: undefined, resource: 'namespaces', name: 'prod', subresource: undefined, verb: 'get' });
    expect(resource('/api/v1/namespaces/prod', 'DELETE')).toMatchObject({ resource: 'namespaces', name: 'prod', verb: 'delete' });
    expect(resource('/api/v1/namespaces/prod/status', 'PATCH')).toMatchObject({ namespace: undefined, resource: 'namespaces', name: 'prod', subresource: 'status', verb: 'patch' });
    expect(resource('/api/v1/namespaces/prod/finalize', 'PUT')).toMatchObject({ namespace: undefined, resource: 'namespaces', name: 'prod', subresource: 'finalize', verb: 'update' });
  });

  it('verbs from method, name and the watch parameter', () => {
    const collection = '/apis/g.io/v1/namespaces/ns/things';
    expect(resource(collection, 'POST').verb).toBe('create');
    expect(resource(collection, 'GET').verb).toBe('list');
    expect(resource(collection, 'GET', true).verb).toBe('watch');
    expect(resource(collection, 'DELETE').verb).toBe('deletecollection');
    expect(resource(`${collection}/a`, 'DELETE').verb).toBe('delete');
    expect(resource(`${collection}/a`, 'PUT').verb).toBe('update');
    expect(resource(`${collection}/a`, 'PATCH').verb).toBe('patch');
    expect(resource(`${collection}/a`, 'HEAD').verb).toBe('get');
    expect(resource(`${collection}/a`, 'GET', true).verb).toBe('watch');
    expect(resource(collection, 'POST', true).verb).toBe('create');
  });

  it('refuses a watch by HEAD: its response has no body, so the stream would hold the connection', () => {
    const collection = '/apis/g.io/v1/namespaces/ns/things';
    expect(() => resource(collection, 'HEAD', true)).toThrow(expect.objectContaining({ code: 405 }));
    expect(resource(collection, 'HEAD').verb).toBe('list');
  });

  it('percent-decodes each segment after splitting', () => {
    expect(resource('/apis/g.io/v1/namespaces/my%2Dns/things/a%20b')).toMatchObject({ namespace: 'my-ns', name: 'a b' });
  });

  it('refuses segments that decode to dot-segments, a slash or a percent sign, and undecodable ones (400)', () => {
    for (const segment of ['.', '..', '%2e', '%2E%2e', '%2e.', 'a%2Fb', '%2F', '%252e%252e', 'a%25b', '%E0%A4%A', '%']) {
      for (const path of [`/apis/g.io/v1/namespaces/ns/things/${segment}`, `/apis/g.io/v1/namespaces/${segment}/things/a`, `/api/v1/namespaces/a/secrets/${segment}/${segment}/b/secrets/db`, `/apis/${segment}/v1/things`]) {
        const error = (() => {
          try {
            parsePath(path, 'GET', false);
          } catch (caught) {
            return caught as ApiError;
          }
          throw new Error(`${path} was accepted`);
        })();
        expect(error).toBeInstanceOf(ApiError);
        expect(error.code).toBe(400);
      }
    }
  });

  it('splits the query off the raw target without resolving anything in the path', () => {
    const target = parseRequestTarget('/api/v1/namespaces/a/configmaps/x?labelSelector=a%3Db&watch=1');
    expect(target.segments).toEqual(['api', 'v1', 'namespaces', 'a', 'configmaps', 'x']);
    expect(target.query.get('labelSelector')).toBe('a=b');
    expect(() => parseRequestTarget('https://evil/api/v1')).toThrow(ApiError);
    expect(() => parseRequestTarget('/' + 'a'.repeat(MAX_REQUEST_TARGET))).toThrow(ApiError);
  });

  it('extra segments are other', () => {
    expect(parsePath('/apis/g.io/v1/namespaces/ns/things/a/status/extra', 'GET', false)).toEqual({ type: 'other', path: '/apis/g.io/v1/namespaces/ns/things/a/status/extra' });
    // As in Kubernetes, namespaces/{name}/status is the namespace's subresource, so nothing may follow it.
    expect(parsePath('/api/v1/namespaces/prod/status/extra', 'GET', false).type).toBe('other');
  });

  it('ignores a trailing slash; an empty inner segment addresses nothing (404)', () => {
    expect(resource('/apis/g.io/v1/namespaces/ns/things/')).toMatchObject({ group: 'g.io', namespace: 'ns', resource: 'things', name: undefined });
    expect(() => parsePath('/apis//g.io/v1//namespaces/ns/things/', 'GET', false)).toThrow(expect.objectContaining({ code: 404 }));
  });
});
