import { describe, expect, it } from '@jest/globals';
import type { Informer, InformerHandlers } from '../runtime/informer.ts';
import type { PortObject } from './deps.ts';
import { SubnetPortIndex } from './subnet-ports.ts';

/** An informer reduced to what the index uses: its handlers (the index registers two), called by the test. */
function fakeInformer() {
  const handlers: Array<InformerHandlers<PortObject>> = [];
  const informer = { addEventHandler: (given: InformerHandlers<PortObject>) => (handlers.push(given), () => undefined) } as unknown as Informer<PortObject>;
  const emit = (): Required<Pick<InformerHandlers<PortObject>, 'onAdd' | 'onUpdate' | 'onDelete'>> => ({
    onAdd: (object) => handlers.forEach((handler) => handler.onAdd?.(object)),
    onUpdate: (old, object) => handlers.forEach((handler) => handler.onUpdate?.(old, object)),
    onDelete: (object) => handlers.forEach((handler) => handler.onDelete?.(object)),
  });
  return { informer, emit };
}

const port = (namespace: string, name: string, subnetRef: string, ipAddress?: string): PortObject =>
  ({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Port', metadata: { namespace, name }, spec: { subnetRef }, ...(ipAddress ? { status: { ipAddress } } : {}) }) as PortObject;

describe('SubnetPortIndex', () => {
  it('keeps each Subnet\'s Ports and how many have an address, per namespace, through updates and deletes', () => {
    const { informer, emit } = fakeInformer();
    const index = new SubnetPortIndex(informer);
    const a = port('t1', 'a', 'web');
    const b = port('t1', 'b', 'web', '10.0.0.3');
    for (const object of [a, b, port('t1', 'c', 'db', '10.1.0.2'), port('t2', 'a', 'web', '10.0.0.2')]) emit().onAdd?.(object);
    expect(index.portsOf('t1', 'web').sort()).toEqual(['a', 'b']);
    expect(index.addressedCount('t1', 'web')).toBe(1);
    expect(index.addressedCount('t1', 'db')).toBe(1);
    expect(index.addressedCount('t2', 'web')).toBe(1);
    expect(index.portsOf('t1', 'none')).toEqual([]);
    expect(index.addressedCount('t1', 'none')).toBe(0);

    // a gets an address; the same update seen twice counts once.
    const addressed = port('t1', 'a', 'web', '10.0.0.4');
    emit().onUpdate?.(a, addressed);
    emit().onUpdate?.(addressed, addressed);
    expect(index.addressedCount('t1', 'web')).toBe(2);
    emit().onDelete?.(b);
    expect(index.portsOf('t1', 'web')).toEqual(['a']);
    expect(index.addressedCount('t1', 'web')).toBe(1);
    emit().onDelete?.(addressed);
    expect(index.portsOf('t1', 'web')).toEqual([]);
    expect(index.addressedCount('t1', 'web')).toBe(0);
    expect(index.addressedCount('t2', 'web')).toBe(1);
  });
});
