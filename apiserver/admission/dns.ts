// Admission for Zones: records knowably wrong for their type (an A that is not an IPv4 address, an MX
// without a preference, a CNAME beside other records, …) are refused with 422 naming the field. The rules live
// once in apis/dns/v1alpha1/validation.ts, which the Zone controller applies too. Who may own a domain is not
// decided here: it depends on other projects' Zones, which a tenant may not see, and on order — the
// controller reports DomainTaken until the name is free.
import { zoneSpecProblems } from '../../apis/dns/v1alpha1/validation.ts';
import type { ZoneSpec } from '../../apis/dns/v1alpha1/zone.ts';
import type { AdmissionPlugin } from './chain.ts';

export const zoneValidation: AdmissionPlugin = {
  name: 'ZoneValidation',
  operations: ['CREATE', 'UPDATE'],
  kinds: [{ group: 'dns.photoncloud.io', kind: 'Zone' }],
  async admit({ object }) {
    const spec = (object as unknown as { spec?: ZoneSpec }).spec;
    return zoneSpecProblems(spec).map((problem) => ({ field: problem.field, reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(problem.value)}: ${problem.message}` }));
  },
};
