// Issue 7, class 7: metric labels must not come from what a client typed. The landed server labelled
// requests with the group and resource from the URL before resolving them: 20k random paths broke /metrics
// (400 `Invalid string length`) and grew memory to 2 GB. Here thousands of made-up paths, methods and
// namespaces leave the request metrics with a small, fixed set of series, /metrics keeps answering, memory
// stays flat and /readyz stays fast.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { duringAttack, mapConcurrently, startApiServerProcess, type ApiServerProcess } from '../env/apiserver-process.ts';

let server: ApiServerProcess;

beforeAll(async () => {
  server = await startApiServerProcess();
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

const random = () => randomBytes(6).toString('hex');

/** A path a client made up: unknown groups, versions, resources, namespaces, names and subresources. */
function madeUpPath(index: number): string {
  switch (index % 8) {
    case 0:
      return `/apis/${random()}.example.com/v1/${random()}`;
    case 1:
      return `/apis/network.photoncloud.io/v1alpha1/namespaces/${random()}/${random()}`;
    case 2:
      return `/api/v1/${random()}/${random()}`;
    case 3:
      return `/apis/network.photoncloud.io/${random()}/vpcs`;
    case 4:
      return `/${random()}/${random()}`;
    case 5:
      return `/api/v1/namespaces/${random()}/configmaps/${random()}/${random()}`;
    case 6:
      return `/apis/network.photoncloud.io/v1alpha1/namespaces/${random()}/vpcs/${random()}`;
    default:
      return `/openapi/v3/apis/${random()}/v1`;
  }
}

function requestSeries(metrics: string): string[] {
  return metrics.split('\n').filter((line) => line.startsWith('apiserver_request_total{') || line.startsWith('apiserver_request_duration_seconds_count{'));
}

describe('metric labels', () => {
  it('keeps request series bounded however many paths clients make up', async () => {
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'PROPFIND', 'MKCOL', 'SEARCH'];
    const run = (count: number, offset: number) =>
      mapConcurrently(Array.from({ length: count }, (_, index) => index + offset), 24, async (index) => {
        const response = await server.client.request(madeUpPath(index), { method: methods[index % methods.length], body: index % 3 === 0 ? '{}' : undefined });
        expect(response.status).toBeLessThan(500);
      });
    await run(2000, 0);
    await server.client.request('/metrics'); // its own series, counted once it has answered
    const afterFew = requestSeries((await server.client.request('/metrics')).text).length;
    const rssBefore = server.rssBytes();
    const { readyz } = await duringAttack(server, () => run(20_000, 2000));
    const metrics = await server.client.request('/metrics');
    expect(metrics.status).toBe(200);
    const series = requestSeries(metrics.text);
    // Ten times the requests, with every path new: not one more series (only verb × code vary).
    expect(series.length).toBe(afterFew);
    expect(series.length).toBeLessThan(100);
    expect(metrics.text.length).toBeLessThan(1024 * 1024);
    for (const line of series) expect(line).not.toMatch(/[0-9a-f]{12}/);
    expect(server.rssBytes() - rssBefore).toBeLessThan(150 * 1024 * 1024);
    expect(readyz.failures).toBe(0);
    expect(readyz.maxMs).toBeLessThan(1000);
  }, 240_000);

  it('still labels resolved requests by their real group and resource', async () => {
    await server.client.request('/apis/network.photoncloud.io/v1alpha1/vpcs');
    const series = requestSeries((await server.client.request('/metrics')).text);
    expect(series.some((line) => line.includes('group="network.photoncloud.io"') && line.includes('resource="vpcs"') && line.includes('verb="LIST"'))).toBe(true);
  });
});
