// `photon cordon NODE` / `photon uncordon NODE`: keeps new VMs off a hypervisor (spec.unschedulable), or lets
// them back — what `kubectl cordon` does for core Nodes, which kubectl cannot do for ours. VMs already on the
// node keep running; drain it by stopping them or (RerunOnFailure) letting them move.
import { parseArgs } from 'node:util';
import path from 'node:path';
import { clientFromKubeconfig, isNotFound } from '../../apis/client/index.ts';
import { NodeResource, type Node } from '../../apis/compute/v1alpha1/index.ts';
import { photonHome, UsageError } from '../../lib/cli.ts';
import { errorMessage } from '../../lib/logging.ts';

export const cordonUsage = (command: 'cordon' | 'uncordon') => `Usage: photon ${command} NODE [--kubeconfig FILE]

${command === 'cordon' ? 'Marks the Node unschedulable: the scheduler places no new VMs there; VMs on it keep running.' : 'Marks the Node schedulable again.'}

Flags:
  --kubeconfig FILE   credentials allowed to patch compute.photoncloud.io Nodes (default: $KUBECONFIG, else
                      $PHOTON_HOME/admin.kubeconfig)
`;

export async function setUnschedulable(command: 'cordon' | 'uncordon', argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { kubeconfig: { type: 'string' }, home: { type: 'string' } } });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  const [name, ...extra] = parsed.positionals;
  if (!name) throw new UsageError(`photon ${command} needs a node name`);
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  const kubeconfig = parsed.values.kubeconfig ?? process.env.KUBECONFIG?.split(':')[0] ?? path.join(photonHome(parsed.values.home), 'admin.kubeconfig');
  const client = clientFromKubeconfig(kubeconfig, { component: 'photon', fieldManager: 'photon-cordon' });
  const unschedulable = command === 'cordon';
  try {
    const node = await client.patch<Node>(NodeResource, name, { spec: { unschedulable } }, { type: 'merge' });
    process.stdout.write(`node/${node.metadata.name} ${unschedulable ? 'cordoned' : 'uncordoned'}\n`);
  } catch (error) {
    if (isNotFound(error)) {
      process.stderr.write(`photon ${command}: node ${JSON.stringify(name)} not found (kubectl get hv lists them)\n`);
      process.exit(1);
    }
    throw error;
  } finally {
    client.close();
  }
}
