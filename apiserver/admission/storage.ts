// Admission for block storage. StorageClassValidation: a ceph-rbd class names its Ceph parameters, a local
// one none. VolumeValidation: the class a Volume names must exist (unlike other references, a class is an
// operator's, made before tenants use it, and a Volume in a class that does not exist can never be made:
// 422, as the issue and Kubernetes' users expect), a Volume without one gets the default class written in (as
// Kubernetes' DefaultStorageClass plugin does), and the size never shrinks. Rules live in
// apis/storage/v1alpha1/validation.ts, which the controllers apply too.
import { defaultStorageClass, storageClassSpecProblems, volumeSpecProblems, type SpecProblem } from '../../apis/storage/v1alpha1/validation.ts';
import type { StorageClass } from '../../apis/storage/v1alpha1/storageclass.ts';
import type { Volume } from '../../apis/storage/v1alpha1/volume.ts';
import type { FieldError } from '../errors.ts';
import type { AdmissionPlugin } from './chain.ts';

const GROUP = 'storage.photoncloud.io';
const STORAGE_CLASSES = { group: GROUP, plural: 'storageclasses' };

const toFieldErrors = (problems: SpecProblem[]): FieldError[] =>
  problems.map((problem) => ({ field: problem.field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(problem.value)}: ${problem.message}` }));

export const storageClassValidation: AdmissionPlugin = {
  name: 'StorageClassValidation',
  operations: ['CREATE', 'UPDATE'],
  kinds: [{ group: GROUP, kind: 'StorageClass' }],
  async admit({ object }) {
    return toFieldErrors(storageClassSpecProblems((object as StorageClass).spec));
  },
};

export const volumeValidation: AdmissionPlugin = {
  name: 'VolumeValidation',
  operations: ['CREATE', 'UPDATE'],
  kinds: [{ group: GROUP, kind: 'Volume' }],
  async admit({ operation, object, old }, lookup) {
    const volume = object as Volume;
    let storageClass: StorageClass | undefined;
    if (!volume.spec.storageClassName) {
      // Only a create gets here without a class (it is immutable once set).
      storageClass = defaultStorageClass((await lookup.list(STORAGE_CLASSES)) as StorageClass[]);
      if (!storageClass) return [{ field: 'spec.storageClassName', reason: 'FieldValueRequired', message: 'Required value: no StorageClass is marked default: name one (kubectl get storageclasses)' }];
      volume.spec.storageClassName = storageClass.metadata.name;
    } else {
      storageClass = (await lookup.get(STORAGE_CLASSES, undefined, volume.spec.storageClassName)) as StorageClass | undefined;
      // An update keeps the class it was made in even if that class was deleted since.
      if (!storageClass && operation === 'CREATE') return [{ field: 'spec.storageClassName', reason: 'FieldValueNotFound', message: `Not found: "${volume.spec.storageClassName}": no such StorageClass (kubectl get storageclasses)` }];
    }
    return toFieldErrors(volumeSpecProblems(volume.spec, (old as Volume | undefined)?.spec, storageClass));
  },
};
