// Names every party to a Node agrees on: the API server (which creates the namespace and issues the
// certificate), the controllers and the node agents. Hand-written beside the generated v1alpha1/ types.

/** The namespace of the node agents' heartbeat Leases (one per Node, named after it). */
export const NODE_LEASE_NAMESPACE = 'photon-node-lease';

/** The common name of the API server's client certificate for node agents (consoles): the only one agents accept. */
export const APISERVER_AGENT_CLIENT = 'system:photon:apiserver-agent-client';
