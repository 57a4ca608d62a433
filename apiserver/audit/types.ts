// The audit hook the request pipeline calls: once per request when it is received (stage RequestReceived is
// not logged: Kubernetes' omitStages default for most policies) and once when its response is complete
// (ResponseComplete; for watches when the stream ends). The implementation decides by policy what to write.
import type { UserInfo } from '../auth/authenticate.ts';
import type { RequestAttributes } from '../authz/types.ts';

export interface AuditRequest {
  /** A fresh UUID per request (auditID); also sent back as the Audit-Id response header. */
  auditId: string;
  method: string;
  /** The request URI as sent (truncated to 2 KiB). */
  requestUri: string;
  user?: UserInfo;
  /** Who the request ran as, when the caller impersonated someone (Impersonate-User). */
  impersonatedUser?: UserInfo;
  sourceIps: string[];
  userAgent?: string;
  /** What was authorized (undefined when the request failed before that, e.g. 401 or an unknown path). */
  attributes?: RequestAttributes;
  /** The decoded request object, when the handler read one (only logged at level Request and above). */
  requestObject?: unknown;
  /** The response object (only logged at level RequestResponse). */
  responseObject?: unknown;
  /** Annotations such as authorization.k8s.io/decision and authorization.k8s.io/reason. */
  annotations: Record<string, string>;
  requestReceivedTimestamp: Date;
}

export interface AuditSink {
  /** The request is complete with this status code. Must not throw and must not block the response. */
  complete(request: AuditRequest, code: number): void;
  close(): Promise<void>;
}
