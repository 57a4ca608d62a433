import { describe, expect, it } from '@jest/globals';
import { AggregatorRegistry, Histogram, Registry } from 'prom-client';
import { TalliedHistogram } from './tallied-histogram.ts';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const OBSERVATIONS: Array<[string[], number]> = [
  [['GET', '', 'pods'], 0.0005],
  [['GET', '', 'pods'], 0.001], // on a bound: counted in it
  [['CREATE', 'network.photoncloud.io', 'vpcs'], 0.05],
  [['GET', '', 'pods'], 7], // above every bound: only +Inf
  [['CREATE', 'network.photoncloud.io', 'vpcs'], 0.2],
  [['LIST', 'a"b', 'x\\y'], 0.003], // values that need escaping
];

/** The same observations through prom-client's own Histogram and through ours, each in a registry of its own. */
function both(): { theirs: Registry; ours: Registry; tallied: TalliedHistogram<'verb' | 'group' | 'resource'> } {
  const theirs = new Registry();
  const histogram = new Histogram({ name: 'request_seconds', help: 'Latency.', labelNames: ['verb', 'group', 'resource'], buckets: BUCKETS, registers: [theirs] });
  const ours = new Registry();
  const tallied = new TalliedHistogram('request_seconds', 'Latency.', ['verb', 'group', 'resource'], BUCKETS, ours);
  for (const [[verb, group, resource], value] of OBSERVATIONS) {
    histogram.observe({ verb: verb!, group: group!, resource: resource! }, value);
    tallied.observe([verb!, group!, resource!], value);
  }
  return { theirs, ours, tallied };
}

describe('TalliedHistogram', () => {
  it('reads on /metrics exactly as prom-client\'s Histogram given the same observations', async () => {
    const { theirs, ours } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('request_seconds_bucket{le="0.001",verb="GET",group="",resource="pods"} 2');
    expect(text).toContain('request_seconds_bucket{le="+Inf",verb="GET",group="",resource="pods"} 3');
    expect(text).toContain('request_seconds_count{verb="CREATE",group="network.photoncloud.io",resource="vpcs"} 2');
  });

  it('aggregates across workers as prom-client\'s Histogram does', async () => {
    const { theirs, ours } = both();
    const aggregate = async (registry: Registry) => (await AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), await registry.getMetricsAsJSON()] as never).metrics());
    const summed = await aggregate(ours);
    expect(summed).toBe(await aggregate(theirs));
    expect(summed).toContain('request_seconds_count{verb="GET",group="",resource="pods"} 6');
  });

  it('refuses a value that is not a finite number and the wrong number of labels, and resets', async () => {
    const { ours, tallied } = both();
    expect(() => tallied.observe(['GET', '', 'pods'], Number.NaN)).toThrow(/not a finite value/);
    expect(() => tallied.observe(['GET', 'pods'], 1)).toThrow(/3 label values expected, got 2/);
    await ours.resetMetrics();
    expect(await ours.metrics()).not.toContain('request_seconds_bucket');
  });
});
