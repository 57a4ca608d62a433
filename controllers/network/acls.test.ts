import { describe, expect, it } from '@jest/globals';
import { securityGroupAcls, sharedGroupsFor } from './acls.ts';

describe('security group ACLs', () => {
  const uids: Record<string, string> = { web: '11111111-aaaa-bbbb-cccc-000000000001' };
  const groupUid = (name: string) => uids[name];

  it('turns rules into stateful allow ACLs on the group, with protocols, port ranges and peers', () => {
    const { acls, missingPeers } = securityGroupAcls('pg_x', {
      ingress: [
        { protocol: 'TCP', ports: '22', from: { cidr: '0.0.0.0/0' } },
        { protocol: 'TCP', ports: '8000-8080', from: { securityGroupRef: 'web' } },
        { protocol: 'ICMP', from: { cidr: '10.0.0.0/8' } },
        { protocol: 'UDP', ports: '53', from: { securityGroupRef: 'absent' } },
      ],
      egress: [{ protocol: 'Any', to: { cidr: '10.1.0.7/16' } }],
    }, groupUid);
    expect(acls).toEqual([
      { direction: 'to-lport', priority: 2000, match: 'outport == @pg_x && ip4 && tcp && tcp.dst == 22', action: 'allow-related' },
      { direction: 'to-lport', priority: 2000, match: 'outport == @pg_x && ip4 && ip4.src == $as_11111111_aaaa_bbbb_cccc_000000000001_ip4 && tcp && tcp.dst >= 8000 && tcp.dst <= 8080', action: 'allow-related' },
      { direction: 'to-lport', priority: 2000, match: 'outport == @pg_x && ip4 && ip4.src == 10.0.0.0/8 && icmp4', action: 'allow-related' },
      { direction: 'from-lport', priority: 2000, match: 'inport == @pg_x && ip4 && ip4.dst == 10.1.0.0/16', action: 'allow-related' },
    ]);
    expect(missingPeers).toEqual(['absent']);
  });

  it('puts secured ports in exactly one egress group', () => {
    expect(sharedGroupsFor(false, false)).toEqual([]);
    expect(sharedGroupsFor(true, false)).toEqual(['photon_secured_ports', 'photon_egress_open_ports']);
    expect(sharedGroupsFor(true, true)).toEqual(['photon_secured_ports', 'photon_egress_limited_ports']);
  });
});
