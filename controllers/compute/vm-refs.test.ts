import { describe, expect, it } from '@jest/globals';
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { Informer, InformerHandlers } from '../runtime/informer.ts';
import { VmReferenceIndex } from './vm-refs.ts';
import { interfacePlans } from './vm-state.ts';

/** An informer reduced to what the index uses: its handlers, called by the test. */
function fakeInformer() {
  let handlers: InformerHandlers<VirtualMachine> | undefined;
  const informer = { addEventHandler: (given: InformerHandlers<VirtualMachine>) => ((handlers = given), () => undefined) } as unknown as Informer<VirtualMachine>;
  return { informer, emit: () => handlers! };
}

const vm = (namespace: string, name: string, spec: Partial<VirtualMachine['spec']>): VirtualMachine =>
  ({ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'VirtualMachine', metadata: { namespace, name }, spec: { cpu: 1, memory: '64Mi', image: 'x', ...spec } }) as VirtualMachine;

describe('VmReferenceIndex', () => {
  it('finds the VMs naming a Port (portRef or a subnetRef interface) or a Volume, per namespace, through updates and deletes', () => {
    const { informer, emit } = fakeInformer();
    const index = new VmReferenceIndex(informer);
    const web = vm('a', 'web', { networks: [{ name: 'eth0', portRef: 'p1' }, { name: 'eth1', subnetRef: 'sn' }], volumes: [{ volumeRef: 'data' }] } as Partial<VirtualMachine['spec']>);
    const db = vm('a', 'db', { networks: [{ name: 'eth0', portRef: 'p1' }] } as Partial<VirtualMachine['spec']>);
    const other = vm('b', 'web', { networks: [{ name: 'eth0', portRef: 'p1' }], volumes: [{ volumeRef: 'data' }] } as Partial<VirtualMachine['spec']>);
    for (const object of [web, db, other]) emit().onAdd?.(object);
    const owned = interfacePlans(web).find((plan) => plan.owned)!.portName;
    expect(index.namedBy('port', 'a', 'p1').sort()).toEqual(['db', 'web']);
    expect(index.namedBy('port', 'a', owned)).toEqual(['web']);
    expect(index.namedBy('volume', 'a', 'data')).toEqual(['web']);
    expect(index.namedBy('volume', 'b', 'data')).toEqual(['web']);
    expect(index.namedBy('port', 'a', 'data')).toEqual([]); // a Volume's name is not a Port's

    const moved = vm('a', 'web', { networks: [{ name: 'eth0', portRef: 'p2' }] } as Partial<VirtualMachine['spec']>);
    emit().onUpdate?.(web, moved);
    expect(index.namedBy('port', 'a', 'p1')).toEqual(['db']);
    expect(index.namedBy('port', 'a', 'p2')).toEqual(['web']);
    expect(index.namedBy('port', 'a', owned)).toEqual([]);
    expect(index.namedBy('volume', 'a', 'data')).toEqual([]);
    emit().onDelete?.(db);
    expect(index.namedBy('port', 'a', 'p1')).toEqual([]);
    expect(index.namedBy('port', 'b', 'p1')).toEqual(['web']);
  });
});
