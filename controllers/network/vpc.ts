// Vpc → one OVN logical router (lr-<uid>) with the VPC's static routes. A Vpc being deleted waits until
// its Subnets are gone (Ready=False SubnetsRemaining), then its router goes with it.
import type { DesiredRow } from '../../agents/ovn-nb/index.ts';
import { VpcResource } from '../../apis/network/v1alpha1/index.ts';
import { LifecycleReconciler, notReady, ready, type Outcome } from '../runtime/lifecycle.ts';
import { OVN_FINALIZER, ownerOfObject, withOvn, type NetworkDeps, type NetworkInformers, type VpcObject } from './deps.ts';
import { routerName } from './names.ts';

/** The rows a Vpc owns: its router and one static route per distinct (destination, next hop). */
export function vpcRows(vpc: VpcObject): DesiredRow[] {
  const uid = vpc.metadata.uid!;
  const routes = new Map((vpc.spec.staticRoutes ?? []).map((route) => [`route:${route.destination}>${route.nextHop}`, route]));
  return [
    { table: 'Logical_Router', columns: { name: routerName(uid) } },
    ...[...routes].map(([key, route]): DesiredRow => ({
      table: 'Logical_Router_Static_Route',
      key,
      columns: { ip_prefix: route.destination, nexthop: route.nextHop },
      memberOf: [{ parent: { table: 'Logical_Router', owner: uid }, column: 'static_routes' }],
    })),
  ];
}

export function vpcReconciler(deps: NetworkDeps, informers: NetworkInformers): LifecycleReconciler<VpcObject> {
  const subnetsOf = (vpc: VpcObject) => informers.subnets.list(vpc.metadata.namespace).filter((subnet) => subnet.spec.vpcRef === vpc.metadata.name).map((subnet) => subnet.metadata.name!).sort();
  return new LifecycleReconciler<VpcObject>({
    client: deps.client,
    resource: VpcResource,
    informer: informers.vpcs,
    finalizer: OVN_FINALIZER,
    fieldManager: 'vpc-controller',
    apply: (vpc) => {
      const status = { subnets: subnetsOf(vpc) };
      return withOvn(deps.ovn, async (): Promise<Outcome> => {
        await deps.ovn.apply(ownerOfObject(vpc), vpcRows(vpc));
        return { readiness: ready('Programmed', `logical router ${routerName(vpc.metadata.uid!)} is programmed in OVN`), status };
      }, status);
    },
    cleanup: async (vpc) => {
      const subnets = subnetsOf(vpc);
      if (subnets.length > 0) return { readiness: notReady('SubnetsRemaining', `waiting for Subnets to be deleted: ${subnets.join(', ')}`), status: { subnets }, eventReason: 'Deleting' };
      // Its ports and static routes are not root rows: OVSDB removes them with the router.
      return withOvn(deps.ovn, async () => (await deps.ovn.apply(ownerOfObject(vpc), []), 'done' as const), { subnets });
    },
  });
}
