// Vpc → one OVN logical router (lr-<uid>) with the VPC's static routes. A Vpc being deleted waits until
// its Subnets are gone (Ready=False SubnetsRemaining), then its router goes with it.
import { byUuid, namedUuid, op, type Operation } from '../../agents/ovsdb/index.ts';
import { addRouterStaticRoutes, ownerIds, removeRouterStaticRoutes, rowsOwnedBy } from '../../agents/ovn-nb/index.ts';
import { VpcResource, type Vpc } from '../../apis/network/v1alpha1/index.ts';
import type { KubeObject } from '../../apis/meta/types.ts';
import { ensureFinalizer, removeFinalizer } from '../runtime/finalizers.ts';
import type { ReconcileContext, ReconcileRequest, Reconciler, Result } from '../runtime/reconciler.ts';
import { OVN_FINALIZER, ownerOfObject, type NetworkDeps, type NetworkInformers } from './deps.ts';
import { routerName } from './names.ts';
import { labels, ownedRow, upsertOwnedRow } from './rows.ts';
import { notReady, ready, StatusReporter } from './status.ts';

const FIELD_MANAGER = 'vpc-controller';

export class VpcReconciler implements Reconciler {
  private readonly status: StatusReporter;

  constructor(
    private readonly deps: NetworkDeps,
    private readonly informers: NetworkInformers,
  ) {
    this.status = new StatusReporter(deps, VpcResource, FIELD_MANAGER);
  }

  async reconcile(request: ReconcileRequest, context: ReconcileContext): Promise<Result> {
    const cached = this.informers.vpcs.get(request.name, request.namespace);
    if (!cached) return {};
    const vpc = structuredClone(cached) as Vpc & KubeObject;
    const subnets = this.informers.subnets.list(vpc.metadata.namespace).filter((subnet) => subnet.spec.vpcRef === vpc.metadata.name).map((subnet) => subnet.metadata.name!).sort();
    const nb = this.deps.northbound.current;

    if (vpc.metadata.deletionTimestamp) {
      if (subnets.length > 0) {
        const message = `waiting for Subnets to be deleted: ${subnets.join(', ')}`;
        await this.status.report(vpc, notReady('SubnetsRemaining', message), { subnets }, context, 'Deleting');
        return {};
      }
      if (!nb) return this.status.unavailable(vpc, { subnets });
      const router = ownedRow(nb, 'Logical_Router', vpc.metadata.uid!);
      // Its ports and static routes are not root rows: OVSDB removes them with the router.
      if (router) await nb.transact([op.delete('Logical_Router', byUuid(router._uuid))]);
      await removeFinalizer(this.deps.client, VpcResource, vpc, OVN_FINALIZER, { fieldManager: FIELD_MANAGER });
      return {};
    }
    if (await ensureFinalizer(this.deps.client, VpcResource, vpc, OVN_FINALIZER, { fieldManager: FIELD_MANAGER })) return {};
    if (!nb) return this.status.unavailable(vpc, { subnets });

    const uid = vpc.metadata.uid!;
    const owner = ownerIds(ownerOfObject(vpc));
    const { uuid } = await upsertOwnedRow(nb, 'Logical_Router', uid, { name: routerName(uid), external_ids: labels(owner) });
    await this.syncStaticRoutes(nb, uuid, uid, owner, vpc.spec.staticRoutes ?? []);
    await this.status.report(vpc, ready('Programmed', `logical router ${routerName(uid)} is programmed in OVN`), { subnets }, context);
    return {};
  }

  /** Routes are compared by (destination, next hop): missing ones are added, extra ones removed. */
  private async syncStaticRoutes(nb: NonNullable<NetworkDeps['northbound']['current']>, router: string, uid: string, owner: Record<string, string>, routes: Array<{ destination: string; nextHop: string }>): Promise<void> {
    const existing = rowsOwnedBy(nb, 'Logical_Router_Static_Route', uid);
    const key = (prefix: string, nexthop: string) => `${prefix}→${nexthop}`;
    const wanted = new Map(routes.map((route) => [key(route.destination, route.nextHop), route]));
    const have = new Map(existing.map((row) => [key(row.ip_prefix, row.nexthop), row]));
    const ops: Operation[] = [];
    const stale = existing.filter((row) => !wanted.has(key(row.ip_prefix, row.nexthop)));
    if (stale.length > 0) ops.push(removeRouterStaticRoutes(router, stale.map((row) => row._uuid)));
    [...wanted.entries()].filter(([id]) => !have.has(id)).forEach(([, route], index) => {
      const name = `route_${index}`;
      ops.push(op.insert('Logical_Router_Static_Route', { ip_prefix: route.destination, nexthop: route.nextHop, external_ids: labels(owner) }, name));
      ops.push(addRouterStaticRoutes(router, namedUuid(name)));
    });
    if (ops.length > 0) await nb.transact(ops);
  }
}
