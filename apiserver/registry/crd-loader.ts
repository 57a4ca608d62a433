// Loads CustomResourceDefinition manifests from a folder (crds/) into the registry at start-up.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { Logger } from '../../apis/logging.ts';
import { resourcesFromCrd, type CustomResourceDefinition } from './crd.ts';
import type { ResourceRegistry } from './registry.ts';

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

export function installCrds(registry: ResourceRegistry, crds: CustomResourceDefinition[], log: Logger): void {
  for (const crd of crds) {
    const { resources, warnings } = resourcesFromCrd(crd);
    for (const warning of warnings) log.warn(warning);
    registry.setSource(crd.metadata.name, resources);
  }
}
