import { describe, expect, it } from '@jest/globals';
import { coreEventResource, eventsV1Resource } from './events.ts';

describe('Events stay in the namespace of the object they are about', () => {
  const core = coreEventResource();
  const v1 = eventsV1Resource();
  const event = (field: string, namespace?: string) => ({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e', namespace: 'a' }, [field]: { kind: 'Vpc', name: 'x', namespace } });

  it('accepts the same namespace, or none (a cluster-scoped object)', () => {
    expect(core.strategy.validate!(event('involvedObject', 'a'))).toEqual([]);
    expect(core.strategy.validate!(event('involvedObject'))).toEqual([]);
    expect(v1.strategy.validate!(event('regarding', 'a'))).toEqual([]);
  });

  it('refuses an object in another namespace, naming the field', () => {
    expect(core.strategy.validate!(event('involvedObject', 'b'))).toEqual([expect.objectContaining({ field: 'involvedObject.namespace', message: 'Invalid value: "b": does not match event.namespace' })]);
    expect(v1.strategy.validate!(event('regarding', 'b'))).toEqual([expect.objectContaining({ field: 'regarding.namespace' })]);
  });
});
