import { describe, expect, it } from '@jest/globals';
import type { VirtualMachine } from '../../apis/compute/v1alpha1/index.ts';
import type { Port } from '../../apis/network/v1alpha1/index.ts';
import type { Informer, InformerHandlers } from '../runtime/informer.ts';
import { VmPortIndex, VmReferenceIndex } from './vm-refs.ts';
import { interfacePlans } from './vm-state.ts';

/** An informer reduced to what the index uses: its handlers, called by the test. */
function fakeInformer<T extends VirtualMachine | Port = VirtualMachine>() {
  let handlers: InformerHandlers<T> | undefined;
  const informer = { addEventHandler: (given: InformerHandlers<T>) => ((handlers = given), () => undefined) } as unknown as Informer<T>;
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

describe('VmPortIndex', () => {
  const port = (namespace: string, name: string, users: { controller?: string; holder?: string; holderKind?: string }): Port =>
    ({
      apiVersion: 'network.photoncloud.io/v1alpha1',
      kind: 'Port',
      metadata: { namespace, name, ...(users.controller ? { ownerReferences: [{ apiVersion: 'compute.photoncloud.io/v1alpha1', kind: 'VirtualMachine', name: users.controller, uid: `uid-${users.controller}`, controller: true }] } : {}) },
      spec: { subnetRef: 's' },
      ...(users.holder ? { status: { owner: { kind: users.holderKind ?? 'VirtualMachine', name: users.holder } } } : {}),
    }) as Port;

  it('finds the Ports a VM controls or holds, per namespace, through updates and deletes', () => {
    const { informer, emit } = fakeInformer<Port>();
    const index = new VmPortIndex(informer);
    const owned = port('a', 'web-eth0', { controller: 'web', holder: 'web' });
    const claimed = port('a', 'shared', { holder: 'web' });
    const free = port('a', 'spare', {});
    const elsewhere = port('b', 'web-eth0', { controller: 'web' });
    const notAVm = port('a', 'vip', { holder: 'web', holderKind: 'LoadBalancer' });
    for (const object of [owned, claimed, free, elsewhere, notAVm]) emit().onAdd?.(object);
    expect(index.portsOf('a', 'web').sort()).toEqual(['shared', 'web-eth0']);
    expect(index.portsOf('b', 'web')).toEqual(['web-eth0']);
    expect(index.portsOf('a', 'db')).toEqual([]);

    // Released by web, claimed by db: found under db only.
    const moved = port('a', 'shared', { holder: 'db' });
    emit().onUpdate?.(claimed, moved);
    expect(index.portsOf('a', 'web')).toEqual(['web-eth0']);
    expect(index.portsOf('a', 'db')).toEqual(['shared']);
    emit().onUpdate?.(moved, port('a', 'shared', {}));
    expect(index.portsOf('a', 'db')).toEqual([]);
    emit().onDelete?.(owned);
    expect(index.portsOf('a', 'web')).toEqual([]);
    expect(index.portsOf('b', 'web')).toEqual(['web-eth0']);
  });
});
