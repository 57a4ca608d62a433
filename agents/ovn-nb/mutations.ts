// Small builders for the mutations controllers make all the time. They are OVSDB `mutate` operations (insert
// into / delete from a set or map column on the server), never read-modify-write updates, so two writers
// adding different ports to the same router or port group never clobber each other.
//
// `ref` is a row UUID (string) or namedUuid('x') for a row inserted earlier in the same transaction.
import { byUuid, op, type Condition, type MutateOperation, type NamedUuid, type Uuid } from '../ovsdb/index.ts';

export type RowRef = string | Uuid | NamedUuid;
type Target = string | readonly Condition[];

const whereOf = (target: Target): readonly Condition[] => (typeof target === 'string' ? byUuid(target) : target);
const list = (refs: RowRef | readonly RowRef[]): RowRef[] => (Array.isArray(refs) ? [...refs] : [refs as RowRef]);

/** Adds values to a set column of the row(s) `target` (a UUID or conditions). */
export function addToSet(table: string, target: Target, column: string, values: RowRef | readonly RowRef[]): MutateOperation {
  return op.mutate(table, whereOf(target), [[column, 'insert', list(values)]]);
}

/** Removes values from a set column of the row(s) `target`. */
export function removeFromSet(table: string, target: Target, column: string, values: RowRef | readonly RowRef[]): MutateOperation {
  return op.mutate(table, whereOf(target), [[column, 'delete', list(values)]]);
}

/** Sets keys of a map column (replacing their values), leaving other keys alone. */
export function setMapKeys(table: string, target: Target, column: string, entries: Record<string, string>): MutateOperation {
  return op.mutate(table, whereOf(target), [
    [column, 'delete', Object.keys(entries)],
    [column, 'insert', entries],
  ]);
}

/** Removes keys from a map column. */
export function removeMapKeys(table: string, target: Target, column: string, keys: readonly string[]): MutateOperation {
  return op.mutate(table, whereOf(target), [[column, 'delete', [...keys]]]);
}

export const addRouterPorts = (router: Target, ports: RowRef | readonly RowRef[]) => addToSet('Logical_Router', router, 'ports', ports);
export const removeRouterPorts = (router: Target, ports: RowRef | readonly RowRef[]) => removeFromSet('Logical_Router', router, 'ports', ports);
export const addRouterStaticRoutes = (router: Target, routes: RowRef | readonly RowRef[]) => addToSet('Logical_Router', router, 'static_routes', routes);
export const removeRouterStaticRoutes = (router: Target, routes: RowRef | readonly RowRef[]) => removeFromSet('Logical_Router', router, 'static_routes', routes);
export const addSwitchPorts = (logicalSwitch: Target, ports: RowRef | readonly RowRef[]) => addToSet('Logical_Switch', logicalSwitch, 'ports', ports);
export const removeSwitchPorts = (logicalSwitch: Target, ports: RowRef | readonly RowRef[]) => removeFromSet('Logical_Switch', logicalSwitch, 'ports', ports);
export const addSwitchLoadBalancers = (logicalSwitch: Target, lbs: RowRef | readonly RowRef[]) => addToSet('Logical_Switch', logicalSwitch, 'load_balancer', lbs);
export const removeSwitchLoadBalancers = (logicalSwitch: Target, lbs: RowRef | readonly RowRef[]) => removeFromSet('Logical_Switch', logicalSwitch, 'load_balancer', lbs);
export const addPortGroupPorts = (group: Target, ports: RowRef | readonly RowRef[]) => addToSet('Port_Group', group, 'ports', ports);
export const removePortGroupPorts = (group: Target, ports: RowRef | readonly RowRef[]) => removeFromSet('Port_Group', group, 'ports', ports);
export const addPortGroupAcls = (group: Target, acls: RowRef | readonly RowRef[]) => addToSet('Port_Group', group, 'acls', acls);
export const removePortGroupAcls = (group: Target, acls: RowRef | readonly RowRef[]) => removeFromSet('Port_Group', group, 'acls', acls);
export const addAddresses = (addressSet: Target, addresses: string | readonly string[]) => addToSet('Address_Set', addressSet, 'addresses', addresses);
export const removeAddresses = (addressSet: Target, addresses: string | readonly string[]) => removeFromSet('Address_Set', addressSet, 'addresses', addresses);
