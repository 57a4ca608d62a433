// Waiting for the leading controller manager to announce the finalizers its controllers keep (on its Lease,
// apis/meta/finalizers.ts), after which the API server adds them at create: for tests and benches that
// count writes, or assert the finalizer is there from the start.
import { LeaseResource, type ApiClient, type Lease } from '../../apis/client/index.ts';
import { CONTROLLER_MANAGER_LEASE, HANDLED_FINALIZERS_ANNOTATION, parseHandledFinalizers } from '../../apis/meta/finalizers.ts';
import { waitFor } from './process.ts';

/** Resolves with the announcement once it names every resource given (`ports.network.photoncloud.io`, …). */
export async function waitForAnnouncedFinalizers(client: ApiClient, resources: string[], timeoutMs = 30_000): Promise<Map<string, string[]>> {
  return waitFor(`the controller manager to announce finalizers for ${resources.join(', ')}`, async () => {
    const lease = await client.get<Lease>(LeaseResource, CONTROLLER_MANAGER_LEASE.name, { namespace: CONTROLLER_MANAGER_LEASE.namespace }).catch(() => undefined);
    const announced = parseHandledFinalizers(lease?.metadata.annotations?.[HANDLED_FINALIZERS_ANNOTATION] ?? '');
    return announced && resources.every((resource) => announced.has(resource)) ? announced : undefined;
  }, { timeoutMs, intervalMs: 200 });
}
