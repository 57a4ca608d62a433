// meta.k8s.io/v1 schemas published in every OpenAPI document (kubectl explain <kind>.metadata reads them).
export const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

export const metaSchemas: Record<string, unknown> = {
  [`${META}.ObjectMeta`]: {
    type: 'object',
    description: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
    properties: {
      name: { type: 'string', description: 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Cannot be updated.' },
      generateName: { type: 'string', description: 'GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided.' },
      namespace: { type: 'string', description: 'Namespace defines the space within which each name must be unique. In PhotonCloud a namespace is a Project. Cannot be updated.' },
      uid: { type: 'string', description: 'UID is the unique in time and space value for this object. It is set by the server on creation and cannot be changed.' },
      resourceVersion: { type: 'string', description: 'An opaque value that represents the internal version of this object, used for optimistic concurrency, change detection, and the watch operation. Read-only.' },
      generation: { type: 'integer', format: 'int64', description: 'A sequence number representing a specific generation of the desired state. Populated by the system. Read-only.' },
      creationTimestamp: { type: 'string', format: 'date-time', description: 'CreationTimestamp is a timestamp representing the server time when this object was created. Read-only.' },
      deletionTimestamp: { type: 'string', format: 'date-time', description: 'DeletionTimestamp is the time after which this resource will be deleted; set by the server when deletion is requested and finalizers are pending. Read-only.' },
      deletionGracePeriodSeconds: { type: 'integer', format: 'int64', description: 'Number of seconds allowed for this object to gracefully terminate before it will be removed from the system. Read-only.' },
      labels: { type: 'object', additionalProperties: { type: 'string' }, description: 'Map of string keys and values that can be used to organize and categorize (scope and select) objects.' },
      annotations: { type: 'object', additionalProperties: { type: 'string' }, description: 'Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata.' },
      finalizers: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set', description: 'Must be empty before the object is deleted from the registry. Each entry is an identifier for the responsible component that will remove the entry from the list.' },
      ownerReferences: {
        type: 'array',
        items: { allOf: [{ $ref: `#/components/schemas/${META}.OwnerReference` }], default: {} },
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['uid'],
        description: 'List of objects depended by this object. If ALL objects in the list have been deleted, this object will be garbage collected.',
      },
      managedFields: { type: 'array', items: { allOf: [{ $ref: `#/components/schemas/${META}.ManagedFieldsEntry` }], default: {} }, description: 'ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow.' },
    },
  },
  [`${META}.OwnerReference`]: {
    type: 'object',
    required: ['apiVersion', 'kind', 'name', 'uid'],
    description: 'OwnerReference contains enough information to let you identify an owning object.',
    properties: {
      apiVersion: { type: 'string', description: 'API version of the referent.' },
      kind: { type: 'string', description: 'Kind of the referent.' },
      name: { type: 'string', description: 'Name of the referent.' },
      uid: { type: 'string', description: 'UID of the referent.' },
      controller: { type: 'boolean', description: 'If true, this reference points to the managing controller.' },
      blockOwnerDeletion: { type: 'boolean', description: 'If true, the owner cannot be deleted from storage until this reference is removed (foreground deletion).' },
    },
  },
  [`${META}.ManagedFieldsEntry`]: {
    type: 'object',
    description: 'ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.',
    properties: {
      manager: { type: 'string', description: 'Manager is an identifier of the workflow managing these fields.' },
      operation: { type: 'string', description: "Operation is the type of operation which lead to this ManagedFieldsEntry being created. The only valid values for this field are 'Apply' and 'Update'." },
      apiVersion: { type: 'string', description: 'APIVersion defines the version of this resource that this field set applies to.' },
      time: { type: 'string', format: 'date-time', description: 'Time is the timestamp of when the ManagedFields entry was added.' },
      fieldsType: { type: 'string', description: 'FieldsType is the discriminator for the different fields format and version.' },
      fieldsV1: { type: 'object', description: 'FieldsV1 holds the first JSON version format.' },
      subresource: { type: 'string', description: 'Subresource is the name of the subresource used to update that object.' },
    },
  },
  [`${META}.ListMeta`]: {
    type: 'object',
    description: 'ListMeta describes metadata that synthetic resources must have, including lists.',
    properties: {
      resourceVersion: { type: 'string', description: 'String that identifies the server\'s internal version of this object that can be used by clients to determine when objects have changed.' },
      continue: { type: 'string', description: 'continue may be set if the user set a limit on the number of items returned.' },
      remainingItemCount: { type: 'integer', format: 'int64', description: 'The number of subsequent items in the list which are not included in this list response.' },
    },
  },
  [`${META}.Status`]: {
    type: 'object',
    description: 'Status is a return value for calls that don\'t return other objects.',
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion of this representation.' },
      kind: { type: 'string', description: 'Kind of this representation: Status.' },
      status: { type: 'string', description: 'Status of the operation. One of: "Success" or "Failure".' },
      message: { type: 'string', description: 'A human-readable description of the status of this operation.' },
      reason: { type: 'string', description: 'A machine-readable description of why this operation is in the "Failure" status.' },
      code: { type: 'integer', format: 'int32', description: 'Suggested HTTP return code for this status.' },
      details: { type: 'object', description: 'Extended data associated with the reason.', 'x-kubernetes-preserve-unknown-fields': true },
    },
  },
  [`${META}.DeleteOptions`]: {
    type: 'object',
    description: 'DeleteOptions may be provided when deleting an API object.',
    properties: {
      propagationPolicy: { type: 'string', description: "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'." },
      dryRun: { type: 'array', items: { type: 'string' }, description: 'When present, indicates that modifications should not be persisted. Valid value: All.' },
      preconditions: { type: 'object', description: 'Must be fulfilled before a deletion is carried out.', properties: { uid: { type: 'string', description: 'Specifies the target UID.' }, resourceVersion: { type: 'string', description: 'Specifies the target ResourceVersion.' } } },
      gracePeriodSeconds: { type: 'integer', format: 'int64', description: 'The duration in seconds before the object should be deleted.' },
    },
  },
  [`${META}.Patch`]: { type: 'object', description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.' },
};
