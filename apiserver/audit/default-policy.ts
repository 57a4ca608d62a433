// The policy the API server writes to $PHOTON_HOME/audit/policy.yaml when none is there, and loading a
// policy file at start-up (a broken one stops the server: auditing by a policy nobody wrote is worse).
import fs from 'node:fs';
import path from 'node:path';
import { ConfigurationError } from '../../lib/cli.ts';
import { parsePolicy, PolicyError, type AuditPolicy } from './policy.ts';

export const DEFAULT_POLICY_YAML = `# The API server's audit policy (audit.k8s.io/v1, as Kubernetes): the first rule that matches a request
# decides its level (None, Metadata, Request, RequestResponse); no match is None. The server reads this file at
# start-up (restart it after editing). Whatever the level, the server never writes the objects of Secrets,
# service account tokens (serviceaccounts/token, TokenRequest, TokenReview) or logins, and never a User's
# password, password hash or request headers.
apiVersion: audit.k8s.io/v1
kind: Policy
# Only the completed request is logged (one line per request).
omitStages: [RequestReceived, ResponseStarted]
rules:
  # Probes and scrapes: frequent and uninteresting.
  - level: None
    nonResourceURLs: [/healthz*, /livez*, /readyz*, /metrics, /version]
  # The controller manager renews its Lease every few seconds.
  - level: None
    users: [system:photon:controller-manager]
    verbs: [get, update]
    resources:
      - group: coordination.k8s.io
        resources: [leases]
  # Events are themselves a record of what happened; auditing them doubles the volume.
  - level: None
    resources:
      - group: ""
        resources: [events]
      - group: events.k8s.io
        resources: [events]
  # Credentials: who touched them, never what they hold.
  - level: Metadata
    resources:
      - group: ""
        resources: [secrets, serviceaccounts/token]
      - group: authentication.k8s.io
        resources: [tokenreviews, tokenrequests]
      - group: iam.photoncloud.io
        resources: [users]
  # Changes to who may do what: the full request and response.
  - level: RequestResponse
    verbs: [create, update, patch, delete, deletecollection]
    resources:
      - group: rbac.authorization.k8s.io
      - group: iam.photoncloud.io
  # Everything else, reads of RBAC and IAM kinds included: who did what to which object.
  - level: Metadata
`;

/** Reads and parses a policy file; a missing or invalid file is a ConfigurationError naming it. */
export function loadPolicyFile(file: string): AuditPolicy {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(`cannot read the audit policy file ${file}: ${(error as Error).message}`);
  }
  try {
    return parsePolicy(text);
  } catch (error) {
    if (error instanceof PolicyError) throw new ConfigurationError(`audit policy file ${file}: ${error.message}`);
    throw error;
  }
}

/** Writes the default policy to `file` unless a file is already there (an operator's edits are kept). */
export function ensureDefaultPolicy(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, DEFAULT_POLICY_YAML, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
