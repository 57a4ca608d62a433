// At start-up PhotonCloud's own kinds (crds/*.yaml) are installed as CustomResourceDefinition objects:
// created when missing, their spec replaced when the manifest changed. The files are the source of truth
// for these CRDs; anything else in the object (status, finalizers) is left alone.
import { jsonEqual } from '../../apis/meta/equality.ts';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { KubeObject } from '../../apis/meta/types.ts';
import type { Logger } from '../../lib/logging.ts';
import { ApiError } from '../errors.ts';
import { defaultWriteOptions } from '../registry/admit.ts';
import type { CustomResourceDefinition } from '../registry/crd.ts';
import type { ObjectStore } from '../registry/object-store.ts';
import type { ResourceRegistry } from '../registry/registry.ts';
import type { ResourceInfo } from '../registry/resource.ts';

export function readCrdFiles(directory: string): CustomResourceDefinition[] {
  const files = fs.readdirSync(directory).filter((file) => /\.ya?ml$/.test(file)).sort();
  const crds: CustomResourceDefinition[] = [];
  for (const file of files) {
    for (const document of YAML.parseAllDocuments(fs.readFileSync(path.join(directory, file), 'utf8'))) {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0].message}`);
      const object = document.toJS() as CustomResourceDefinition | null;
      if (object?.kind === 'CustomResourceDefinition') crds.push(object);
    }
  }
  return crds;
}

export async function installCrds(crds: CustomResourceDefinition[], resource: ResourceInfo, objects: ObjectStore, log: Logger): Promise<void> {
  for (const crd of crds) {
    const name = crd.metadata.name;
    try {
      await objects.create(resource, undefined, structuredClone(crd), defaultWriteOptions());
      log.info('installed CustomResourceDefinition', { crd: name });
      continue;
    } catch (error) {
      if (!(error instanceof ApiError && error.reason === 'AlreadyExists')) throw new Error(`installing ${name}: ${(error as Error).message}`);
    }
    await objects.guaranteedUpdate(resource, undefined, name, defaultWriteOptions(), (current) => {
      const annotations = { ...current.metadata.annotations, ...crd.metadata.annotations };
      if (jsonEqual(current.spec, crd.spec) && jsonEqual(current.metadata.annotations ?? {}, annotations)) return current;
      log.info('updating CustomResourceDefinition from its manifest', { crd: name });
      return { ...current, metadata: { ...current.metadata, annotations }, spec: structuredClone(crd.spec) } as KubeObject;
    });
  }
}

/** Resolves once every CRD's versions are registered (the CRD controller registers them from the cache). */
export async function waitForCrds(registry: ResourceRegistry, crds: CustomResourceDefinition[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const missing = crds.filter((crd) => !registry.all().some((resource) => resource.source === crd.metadata.name));
    if (missing.length === 0) return;
    if (Date.now() > deadline) throw new Error(`CustomResourceDefinitions not served after ${timeoutMs} ms: ${missing.map((crd) => crd.metadata.name).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
