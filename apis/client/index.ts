// The PhotonCloud API client: `clientFromKubeconfig(path)` → typed get/list/create/update/patch/delete/watch.
export * from './client.ts';
export * from './errors.ts';
export * from './kubeconfig.ts';
export * from './resources.ts';
