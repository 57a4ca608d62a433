// Writes kubeconfig files (the format kubectl and client-node read) for users of this cluster.
import YAML from 'yaml';
import { writePrivateFileAtomic } from './credentials.ts';

export interface KubeconfigOptions {
  server: string;
  caCertificatePem: string;
  user: string;
  token?: string;
  clientCertificatePem?: string;
  clientKeyPem?: string;
  clusterName?: string;
  namespace?: string;
}

export function renderKubeconfig(options: KubeconfigOptions): string {
  const cluster = options.clusterName ?? 'photon';
  const context = `${options.user}@${cluster}`;
  const user: Record<string, string> = {};
  if (options.token) user.token = options.token;
  if (options.clientCertificatePem) user['client-certificate-data'] = Buffer.from(options.clientCertificatePem).toString('base64');
  if (options.clientKeyPem) user['client-key-data'] = Buffer.from(options.clientKeyPem).toString('base64');
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: options.server, 'certificate-authority-data': Buffer.from(options.caCertificatePem).toString('base64') } }],
    users: [{ name: options.user, user }],
    contexts: [{ name: context, context: { cluster, user: options.user, ...(options.namespace ? { namespace: options.namespace } : {}) } }],
    'current-context': context,
    preferences: {},
  });
}

/** Writes a kubeconfig (it holds a credential) atomically with mode 0600. */
export function writeKubeconfig(file: string, options: KubeconfigOptions): void {
  writePrivateFileAtomic(file, renderKubeconfig(options));
}
