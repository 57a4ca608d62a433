// Server-side apply field ownership (Kubernetes' managedFields / structured-merge-diff) as a pure module.
export { apply, applySteps, recordUpdate, withManagedFields, BEFORE_FIRST_APPLY, OBJECT_META_SCHEMA, type FieldManagerContext } from './fieldmanager.ts';
export { ApplyConflictError, applyConflictStatus, conflictStatusCauses, conflictStatusMessage, printManager, type FieldConflict } from './conflicts.ts';
export { FieldSet, renderPath, type FieldPath, type PathElement } from './fieldpath.ts';
export { toFieldSet } from './typed.ts';
