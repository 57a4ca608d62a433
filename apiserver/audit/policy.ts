// The audit policy: an `audit.k8s.io/v1` Policy, read from YAML and evaluated as kube-apiserver does
// (k8s.io/apiserver/pkg/audit/policy/checker.go): the first rule that matches a request decides its level and
// omitted stages; no match means level None. Unknown fields are refused, so a typo such as `resource:` for
// `resources:` fails at start-up instead of silently widening a rule.
import { parse as parseYaml } from 'yaml';

export const LEVELS = ['None', 'Metadata', 'Request', 'RequestResponse'] as const;
export type Level = (typeof LEVELS)[number];
export const STAGES = ['RequestReceived', 'ResponseStarted', 'ResponseComplete', 'Panic'] as const;
export type Stage = (typeof STAGES)[number];

export interface GroupResources {
  /** '' is the core group. */
  group?: string;
  /** `pods`, `pods/log`, `*\/status` (any resource's status), `pods/*`; empty: every resource in the group. */
  resources?: string[];
  resourceNames?: string[];
}

export interface PolicyRule {
  level: Level;
  users?: string[];
  userGroups?: string[];
  verbs?: string[];
  resources?: GroupResources[];
  namespaces?: string[];
  nonResourceURLs?: string[];
  omitStages?: Stage[];
}

export interface AuditPolicy {
  rules: PolicyRule[];
  omitStages: Stage[];
}

/** What a rule is matched against: the authorizer's attributes, reduced to what a policy can name. */
export interface PolicyAttributes {
  user: { name: string; groups: string[] };
  verb: string;
  resourceRequest: boolean;
  /** Non-resource requests. */
  path?: string;
  /** Resource requests. */
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface PolicyDecision {
  level: Level;
  omitStages: Stage[];
}

export class PolicyError extends Error {}

const RULE_FIELDS = new Set(['level', 'users', 'userGroups', 'verbs', 'resources', 'namespaces', 'nonResourceURLs', 'omitStages']);
const GROUP_RESOURCE_FIELDS = new Set(['group', 'resources', 'resourceNames']);
const POLICY_FIELDS = new Set(['apiVersion', 'kind', 'metadata', 'rules', 'omitStages']);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown, where: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) throw new PolicyError(`${where} must be a list of strings`);
  return value as string[];
}

function stageList(value: unknown, where: string): Stage[] | undefined {
  const stages = stringList(value, where);
  for (const stage of stages ?? []) if (!(STAGES as readonly string[]).includes(stage)) throw new PolicyError(`${where}: unknown stage ${JSON.stringify(stage)} (one of ${STAGES.join(', ')})`);
  return stages as Stage[] | undefined;
}

function unknownFields(object: Record<string, unknown>, allowed: Set<string>, where: string): void {
  const unknown = Object.keys(object).filter((key) => !allowed.has(key));
  if (unknown.length > 0) throw new PolicyError(`${where}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => JSON.stringify(key)).join(', ')}`);
}

function parseRule(value: unknown, index: number): PolicyRule {
  const where = `rules[${index}]`;
  if (!isObject(value)) throw new PolicyError(`${where} must be an object`);
  unknownFields(value, RULE_FIELDS, where);
  if (!(LEVELS as readonly unknown[]).includes(value.level)) throw new PolicyError(`${where}.level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(value.level)}`);
  const rule: PolicyRule = {
    level: value.level as Level,
    users: stringList(value.users, `${where}.users`),
    userGroups: stringList(value.userGroups, `${where}.userGroups`),
    verbs: stringList(value.verbs, `${where}.verbs`),
    namespaces: stringList(value.namespaces, `${where}.namespaces`),
    nonResourceURLs: stringList(value.nonResourceURLs, `${where}.nonResourceURLs`),
    omitStages: stageList(value.omitStages, `${where}.omitStages`),
  };
  if (value.resources !== undefined && value.resources !== null) {
    if (!Array.isArray(value.resources)) throw new PolicyError(`${where}.resources must be a list`);
    rule.resources = value.resources.map((entry, position) => {
      const at = `${where}.resources[${position}]`;
      if (!isObject(entry)) throw new PolicyError(`${at} must be an object`);
      unknownFields(entry, GROUP_RESOURCE_FIELDS, at);
      if (entry.group !== undefined && typeof entry.group !== 'string') throw new PolicyError(`${at}.group must be a string`);
      return { group: (entry.group as string | undefined) ?? '', resources: stringList(entry.resources, `${at}.resources`), resourceNames: stringList(entry.resourceNames, `${at}.resourceNames`) };
    });
  }
  // As Kubernetes' validation: a rule is about resources or about non-resource URLs, never both.
  if (rule.nonResourceURLs?.length && (rule.resources?.length || rule.namespaces?.length)) {
    throw new PolicyError(`${where}: nonResourceURLs cannot be combined with resources or namespaces`);
  }
  for (const url of rule.nonResourceURLs ?? []) {
    if (!url.startsWith('/') && url !== '*') throw new PolicyError(`${where}.nonResourceURLs: ${JSON.stringify(url)} must start with "/"`);
    if (url.indexOf('*') !== -1 && url.indexOf('*') !== url.length - 1) throw new PolicyError(`${where}.nonResourceURLs: ${JSON.stringify(url)} may only end in "*"`);
  }
  return rule;
}

/** Parses a Policy document (YAML or JSON); throws PolicyError saying what is wrong. */
export function parsePolicy(text: string): AuditPolicy {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new PolicyError(`not valid YAML: ${(error as Error).message}`);
  }
  if (!isObject(document)) throw new PolicyError('the policy must be a YAML object (kind: Policy)');
  unknownFields(document, POLICY_FIELDS, 'Policy');
  if (document.apiVersion !== 'audit.k8s.io/v1' || document.kind !== 'Policy') {
    throw new PolicyError(`apiVersion must be audit.k8s.io/v1 and kind Policy, got ${JSON.stringify(document.apiVersion)} ${JSON.stringify(document.kind)}`);
  }
  if (!Array.isArray(document.rules)) throw new PolicyError('rules must be a list');
  return { rules: document.rules.map(parseRule), omitStages: stageList(document.omitStages, 'omitStages') ?? [] };
}

function matchesUrl(pattern: string, path: string): boolean {
  if (pattern === '*') return true;
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern;
}

/**
 * `pods`, `pods/log`, `*` (any), `*\/log` (that subresource of any resource) and `pods/*` (pods and all its
 * subresources), exactly as Kubernetes' checker matches them.
 */
function matchesResource(pattern: string, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  if (pattern === combined || pattern === '*') return true;
  if (subresource && pattern === `*/${subresource}`) return true;
  return pattern.endsWith('/*') && pattern.slice(0, -2) === resource;
}

function ruleMatches(rule: PolicyRule, request: PolicyAttributes): boolean {
  if (rule.users?.length && !rule.users.includes(request.user.name)) return false;
  if (rule.userGroups?.length && !rule.userGroups.some((group) => request.user.groups.includes(group))) return false;
  if (rule.verbs?.length && !rule.verbs.includes(request.verb)) return false;
  if (rule.nonResourceURLs?.length) {
    return !request.resourceRequest && rule.nonResourceURLs.some((pattern) => matchesUrl(pattern, request.path ?? ''));
  }
  if (rule.namespaces?.length || rule.resources?.length) {
    if (!request.resourceRequest) return false;
    if (rule.namespaces?.length && !rule.namespaces.includes(request.namespace ?? '')) return false;
    if (rule.resources?.length) {
      return rule.resources.some((entry) => {
        if ((entry.group ?? '') !== (request.apiGroup ?? '')) return false;
        // As Kubernetes: no resources means the whole group (resourceNames then play no part).
        if (!entry.resources?.length) return true;
        if (entry.resourceNames?.length && !entry.resourceNames.includes(request.name ?? '')) return false;
        return entry.resources.some((pattern) => matchesResource(pattern, request.resource ?? '', request.subresource ?? ''));
      });
    }
  }
  return true;
}

/** The level for a request: the first matching rule's, None when no rule matches. */
export function evaluatePolicy(policy: AuditPolicy, request: PolicyAttributes): PolicyDecision {
  for (const rule of policy.rules) {
    if (ruleMatches(rule, request)) return { level: rule.level, omitStages: [...policy.omitStages, ...(rule.omitStages ?? [])] };
  }
  return { level: 'None', omitStages: policy.omitStages };
}
