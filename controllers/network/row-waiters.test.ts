import { describe, expect, it } from '@jest/globals';
import type { NorthboundDriver, Owner } from '../../agents/ovn-nb/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { RowWaiters, type Waiter } from './row-waiters.ts';

/** A driver whose rows the test adds by hand, announcing each as the real one does. */
function fakeDriver() {
  const rows = new Set<string>();
  const listeners = new Set<(owner: Owner, table: string) => void>();
  const driver = {
    has: (row: { table: string; owner: string }) => rows.has(`${row.table}/${row.owner}`),
    onOwnedRowAdded(listener: (owner: Owner, table: string) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  } as unknown as NorthboundDriver;
  const add = (table: string, uid: string) => {
    rows.add(`${table}/${uid}`);
    for (const listener of listeners) listener({ kind: 'Vpc', namespace: 'ns', name: 'main', uid }, table);
  };
  return { driver, add, listeners };
}

const subnet = (name: string): KubeObject => ({ apiVersion: 'network.photoncloud.io/v1alpha1', kind: 'Subnet', metadata: { name, namespace: 'ns' } });

describe('RowWaiters', () => {
  it('wakes each object that found the row missing once, when that row appears, and no one for other rows', () => {
    const ovn = fakeDriver();
    const woken: Waiter[] = [];
    const rows = new RowWaiters(ovn.driver, (waiter) => woken.push(waiter));
    const router = { table: 'Logical_Router', owner: 'vpc-uid' } as const;
    expect(rows.has(router, subnet('a'))).toBe(false);
    expect(rows.has(router, subnet('a'))).toBe(false); // looked twice: still one wake
    expect(rows.has(router, subnet('b'))).toBe(false);
    ovn.add('Logical_Switch', 'vpc-uid');
    ovn.add('Logical_Router', 'other-uid');
    expect(woken).toEqual([]);
    ovn.add('Logical_Router', 'vpc-uid');
    expect(woken).toEqual([{ kind: 'Subnet', namespace: 'ns', name: 'a' }, { kind: 'Subnet', namespace: 'ns', name: 'b' }]);
    // Present now: no waiting; the row appearing again (a reconnect's snapshot) wakes no one.
    expect(rows.has(router, subnet('c'))).toBe(true);
    ovn.add('Logical_Router', 'vpc-uid');
    expect(woken).toHaveLength(2);
    expect(rows.size).toBe(0);
  });

  it('forgets rows of owners that no longer exist, and stops listening when stopped', () => {
    const ovn = fakeDriver();
    const rows = new RowWaiters(ovn.driver, () => undefined);
    rows.has({ table: 'Logical_Router', owner: 'gone' }, subnet('a'));
    rows.has({ table: 'Logical_Switch', owner: 'live' }, subnet('a'));
    rows.forgetOwnersExcept(new Set(['live']));
    expect(rows.size).toBe(1);
    rows.stop();
    expect(ovn.listeners.size).toBe(0);
    expect(rows.size).toBe(0);
  });
});
