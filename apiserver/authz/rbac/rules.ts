// RBAC rule semantics, exactly Kubernetes' (pkg/apis/rbac/v1/evaluation_helpers.go and
// pkg/registry/rbac/validation/policy_comparator.go): whether a rule allows a request, and whether one set of
// rules covers another (escalation prevention: nobody grants what they do not hold).
import type { PolicyRule, RequestAttributes } from '../types.ts';

const ALL = '*';

function verbMatches(rule: PolicyRule, verb: string): boolean {
  return rule.verbs.includes(ALL) || rule.verbs.includes(verb);
}

function apiGroupMatches(rule: PolicyRule, group: string): boolean {
  const groups = rule.apiGroups ?? [];
  return groups.includes(ALL) || groups.includes(group);
}

/** `pods`, `pods/log`, `*`, and `*\/log` for any resource's log subresource; never `pods/*`. */
function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource ? `${resource}/${subresource}` : resource;
  for (const candidate of rule.resources ?? []) {
    if (candidate === ALL || candidate === combined) return true;
    if (subresource && candidate === `*/${subresource}`) return true;
  }
  return false;
}

function resourceNameMatches(rule: PolicyRule, name: string): boolean {
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (name !== '' && names.includes(name));
}

/** `/healthz` exactly, or a prefix ending in `*` (`/apis/*` covers `/apis/x`, and `*` everything). */
function nonResourceUrlMatches(rule: PolicyRule, path: string): boolean {
  for (const url of rule.nonResourceURLs ?? []) {
    if (url === ALL || url === path) return true;
    if (url.endsWith('*') && path.startsWith(url.slice(0, -1))) return true;
  }
  return false;
}

export function ruleAllows(rule: PolicyRule, attributes: RequestAttributes): boolean {
  if (!verbMatches(rule, attributes.verb)) return false;
  if (!attributes.resourceRequest) return nonResourceUrlMatches(rule, attributes.path);
  return apiGroupMatches(rule, attributes.apiGroup) && resourceMatches(rule, attributes.resource, attributes.subresource) && resourceNameMatches(rule, attributes.name);
}

export function rulesAllow(rules: readonly PolicyRule[], attributes: RequestAttributes): boolean {
  return rules.some((rule) => ruleAllows(rule, attributes));
}

/** A rule split into one verb × group × resource × (name), or one verb × URL: what coverage is checked on. */
function atomize(rule: PolicyRule): PolicyRule[] {
  const atoms: PolicyRule[] = [];
  for (const verb of rule.verbs) {
    for (const url of rule.nonResourceURLs ?? []) atoms.push({ verbs: [verb], nonResourceURLs: [url] });
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        const names = rule.resourceNames ?? [];
        if (names.length === 0) atoms.push({ verbs: [verb], apiGroups: [group], resources: [resource] });
        for (const name of names) atoms.push({ verbs: [verb], apiGroups: [group], resources: [resource], resourceNames: [name] });
      }
    }
  }
  return atoms;
}

function urlCovers(owner: string, requested: string): boolean {
  if (owner === requested) return true;
  return owner.endsWith('*') && requested.startsWith(owner.slice(0, -1));
}

function resourceCovers(owner: string, requested: string): boolean {
  if (owner === ALL || owner === requested) return true;
  // `*/scale` covers `deployments/scale`.
  const slash = requested.indexOf('/');
  return owner.startsWith('*/') && slash >= 0 && requested.slice(slash) === owner.slice(1);
}

function ruleCoversAtom(owner: PolicyRule, atom: PolicyRule): boolean {
  const verb = atom.verbs[0];
  if (!owner.verbs.includes(ALL) && !owner.verbs.includes(verb)) return false;
  if (atom.nonResourceURLs) return (owner.nonResourceURLs ?? []).some((url) => urlCovers(url, atom.nonResourceURLs![0]));
  const group = atom.apiGroups![0];
  const resource = atom.resources![0];
  if (!(owner.apiGroups ?? []).some((candidate) => candidate === ALL || candidate === group)) return false;
  if (!(owner.resources ?? []).some((candidate) => resourceCovers(candidate, resource))) return false;
  const ownerNames = owner.resourceNames ?? [];
  if (ownerNames.length === 0) return true;
  return atom.resourceNames !== undefined && ownerNames.includes(atom.resourceNames[0]);
}

/** The parts of `requested` that `owner` does not cover (empty: covered). */
export function uncoveredRules(owner: readonly PolicyRule[], requested: readonly PolicyRule[]): PolicyRule[] {
  return requested.flatMap(atomize).filter((atom) => !owner.some((rule) => ruleCoversAtom(rule, atom)));
}

/** `{APIGroups:["network.photoncloud.io"], Resources:["vpcs"], Verbs:["create"]}`, as Kubernetes prints missing rules. */
export function describeRule(rule: PolicyRule): string {
  const parts: string[] = [];
  if (rule.apiGroups) parts.push(`APIGroups:${JSON.stringify(rule.apiGroups)}`);
  if (rule.resources) parts.push(`Resources:${JSON.stringify(rule.resources)}`);
  if (rule.resourceNames?.length) parts.push(`ResourceNames:${JSON.stringify(rule.resourceNames)}`);
  if (rule.nonResourceURLs) parts.push(`NonResourceURLs:${JSON.stringify(rule.nonResourceURLs)}`);
  parts.push(`Verbs:${JSON.stringify(rule.verbs)}`);
  return `{${parts.join(', ')}}`;
}
