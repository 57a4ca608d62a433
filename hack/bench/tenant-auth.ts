// `npm run bench:tenant`: what a tenant's request costs over the admin's. The same ConfigMap creates (2,000 per
// round at concurrency 16) alternate between the bootstrap admin (static token, system:masters: RBAC and
// impersonation checks short-circuit) and a tenant (a signed ES256 token verified per request, its User and
// Groups looked up, RBAC over 50 RoleBindings in the namespace, the quota plugin consulted, audit written for
// both), in one API server in this process, three rounds each; prints creates/s per round and the ratio of
// the tenant's median to the admin's. Options: --quick (fewer creates).
import fs from 'node:fs';
import { ApiClient } from '../../test/env/http.ts';
import { organization, project, roleBinding, startTenantEnvironment, user } from '../../test/env/tenants.ts';

const quick = process.argv.includes('--quick');
const CREATES = quick ? 300 : 2000;
const ROUNDS = 3;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const tenants = await startTenantEnvironment();
try {
  await tenants.apply(organization('bench'), project('bench', 'bench'), user('alice'));
  await tenants.waitForNamespace('bench');
  await tenants.apply(roleBinding('alice-edit', 'bench', { kind: 'ClusterRole', name: 'edit' }, ['alice']));
  await tenants.apply(...Array.from({ length: 50 }, (_, index) => roleBinding(`other-${index}`, 'bench', { kind: 'ClusterRole', name: 'view' }, [`someone-${index}`])));
  const alice = await tenants.session('alice');
  const token = /token: (\S+)/.exec(fs.readFileSync(alice.kubeconfig, 'utf8'))![1];
  const api = new ApiClient(tenants.env);
  const round = async (label: string, asToken?: string): Promise<number> => {
    let next = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < CREATES) {
          const index = next++;
          const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${label}-${index}` } });
          const result = await api.request('/api/v1/namespaces/bench/configmaps', { method: 'POST', token: asToken, body });
          if (result.status !== 201) throw new Error(`${label}: ${result.status} ${result.text}`);
        }
      }),
    );
    const perSecond = CREATES / (Number(process.hrtime.bigint() - started) / 1e9);
    console.log(`${label.padEnd(9)} ${perSecond.toFixed(0)} creates/s`);
    return perSecond;
  };
  await round('warmup');
  const admin: number[] = [];
  const tenant: number[] = [];
  for (let index = 1; index <= ROUNDS; index++) {
    admin.push(await round(`admin-${index}`));
    tenant.push(await round(`tenant-${index}`, token));
  }
  console.log(`tenant ÷ admin creates/s (medians): ${(median(tenant) / median(admin)).toFixed(2)}`);
  api.close();
} finally {
  await tenants.stop();
}
