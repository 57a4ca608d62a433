// Tenants for tests, onboarded as an operator would: the admin applies Organizations, Projects, Users and
// bindings with kubectl, `photon kubeconfig user NAME` issues each user's kubeconfig, and each user then runs
// the real kubectl with their own kubeconfig (and their own kubectl cache directory).
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../agents/ovn-local/commands.ts';
import { REPOSITORY_ROOT } from '../../apiserver/server.ts';
import { startControllerManager, type ControllerManager } from '../../controllers/manager.ts';
import { kubectlOk, runKubectl, startTestApiServer, type KubectlResult, type TestApiServer } from './apiserver.ts';
import { waitFor } from './process.ts';

export const PHOTON_CLI = path.join(REPOSITORY_ROOT, 'cli', 'photon.ts');
export const IAM_CONTROLLERS = ['organization', 'project', 'organization-role-binding'];
const IAM = 'iam.photoncloud.io/v1alpha1';
const RBAC = 'rbac.authorization.k8s.io/v1';

export const organization = (name: string) => ({ apiVersion: IAM, kind: 'Organization', metadata: { name }, spec: { displayName: name } });
export const project = (name: string, org: string) => ({ apiVersion: IAM, kind: 'Project', metadata: { name }, spec: { organizationRef: { name: org } } });
export const user = (name: string) => ({ apiVersion: IAM, kind: 'User', metadata: { name }, spec: { displayName: name } });
export const roleBinding = (name: string, namespace: string, role: { kind: 'Role' | 'ClusterRole'; name: string }, users: string[]) => ({
  apiVersion: RBAC,
  kind: 'RoleBinding',
  metadata: { name, namespace },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', ...role },
  subjects: users.map((name) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name })),
});
export const organizationRoleBinding = (name: string, org: string, clusterRole: string, users: string[]) => ({
  apiVersion: IAM,
  kind: 'OrganizationRoleBinding',
  metadata: { name },
  spec: {
    organizationRef: { name: org },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole },
    subjects: users.map((name) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name })),
  },
});
export const manifest = (...objects: object[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects });

/** One person at their terminal: their own kubeconfig, their own kubectl. */
export interface Session {
  name: string;
  kubeconfig: string;
  kubectl(args: string[], stdin?: string): Promise<KubectlResult>;
  /** `kubectl auth can-i …` → true for "yes", false for "no" (exit 1); anything else throws. */
  canI(...args: string[]): Promise<boolean>;
}

export interface TenantEnvironment {
  env: TestApiServer;
  /** kubectl as the cluster admin. */
  admin(args: string[], stdin?: string): Promise<KubectlResult>;
  apply(...objects: object[]): Promise<string>;
  /** A kubeconfig issued by `photon kubeconfig user|node NAME`, and kubectl through it. */
  session(name: string, kind?: 'user' | 'node'): Promise<Session>;
  /** Waits until the project controller has made the Project's namespace. */
  waitForNamespace(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startTenantEnvironment(): Promise<TenantEnvironment> {
  const env = await startTestApiServer({ storage: 'embedded' });
  let manager: ControllerManager | undefined;
  const sessionsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'photon-users-'));
  try {
    manager = startControllerManager({ kubeconfig: env.kubeconfig, ovnNorthbound: 'unix:/nonexistent', leaderElect: false, controllers: IAM_CONTROLLERS });
  } catch (error) {
    await env.stop();
    throw error;
  }
  const admin = (args: string[], stdin?: string) => env.kubectl(args, { stdin });
  return {
    env,
    admin,
    apply: async (...objects) => kubectlOk(await admin(['apply', '-f', '-'], manifest(...objects))),
    async session(name, kind = 'user') {
      const issued = await run(process.execPath, ['--import', 'tsx', PHOTON_CLI, 'kubeconfig', kind, name, '--home', env.home, '--server', env.url], { timeoutMs: 60_000 });
      if (issued.code !== 0) throw new Error(`photon kubeconfig ${kind} ${name} failed (${issued.code}): ${issued.stderr}`);
      const directory = await fs.mkdtemp(path.join(sessionsDir, `${name.replace(/[^a-z0-9-]/g, '-')}-`));
      const kubeconfig = path.join(directory, 'config');
      await fs.writeFile(kubeconfig, issued.stdout, { mode: 0o600 });
      const kubectl = (args: string[], stdin?: string) => runKubectl(kubeconfig, args, { stdin });
      return {
        name,
        kubeconfig,
        kubectl,
        async canI(...args) {
          const result = await kubectl(['auth', 'can-i', ...args]);
          const answer = result.stdout.trim();
          if (result.code === 0 && answer === 'yes') return true;
          if (result.code === 1 && answer === 'no') return false;
          throw new Error(`kubectl auth can-i ${args.join(' ')}: exit ${result.code}: ${result.stdout}${result.stderr}`);
        },
      };
    },
    async waitForNamespace(name) {
      await waitFor(`namespace ${name}`, async () => (await admin(['get', 'namespace', name, '-o', 'name'])).code === 0, { timeoutMs: 30_000, intervalMs: 100 });
    },
    async stop() {
      await manager?.stop();
      await env.stop();
      await fs.rm(sessionsDir, { recursive: true, force: true });
    },
  };
}

/** A kubectl run refused by authorization: exit 1 and `Error from server (Forbidden)`. */
export function isForbidden(result: KubectlResult): boolean {
  return result.code !== 0 && /\(Forbidden\)|forbidden/.test(result.stderr);
}
