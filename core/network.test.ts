import { describe, expect, it } from 'vitest';
import { egressRules, parseCidr, parseEgressAllowCidrs, parsePort } from './network.ts';
import { functionSpecSchema } from './schema.ts';

function spec(network: unknown) {
  return functionSpecSchema().safeParse({
    apiVersion: 'pontoon.dev/v1',
    kind: 'Function',
    metadata: { name: 'net' },
    spec: { image: 'example.invalid/net:1', network },
  });
}

describe('spec.network', () => {
  it('takes CIDRs or single addresses, with ports as numbers, ranges and /udp', () => {
    const r = spec({
      egress: [{ cidr: '0.0.0.0/0', ports: [443, '53/udp', '8000-8100'] }, { cidr: '2001:db8::1' }],
    });
    expect(r.success).toBe(true);
    expect(parsePort('53/udp')).toEqual({ protocol: 'UDP', port: 53 });
    expect(parsePort('8000-8100')).toEqual({ protocol: 'TCP', port: 8000, endPort: 8100 });
    expect(parsePort(443)).toEqual({ protocol: 'TCP', port: 443 });
  });

  it('refuses malformed ranges and ports at their field', () => {
    const r = spec({
      egress: [
        { cidr: 'example.com' },
        { cidr: '10.1.2.3/8' },
        { cidr: '8.8.8.8/32', ports: [0, '70000', '9-5', '80/icmp'] },
        { cidr: '8.8.8.8/32', extra: true },
      ],
    });
    expect(r.success).toBe(false);
    const issues = r.error!.issues.map((i) => [i.path.join('.'), i.message]);
    expect(issues).toEqual([
      ['spec.network.egress.0.cidr', expect.stringMatching(/must be an address range/)],
      ['spec.network.egress.1.cidr', 'has host bits set: write 10.0.0.0/8'],
      ['spec.network.egress.2.ports.0', expect.stringMatching(/must be a port 1–65535/)],
      ['spec.network.egress.2.ports.1', expect.stringMatching(/must be a port/)],
      ['spec.network.egress.2.ports.2', expect.stringMatching(/must be a port/)],
      ['spec.network.egress.2.ports.3', expect.stringMatching(/must be a port/)],
      ['spec.network.egress.3', expect.stringMatching(/extra/)],
    ]);
  });
});

describe('egress rules', () => {
  it('cut every non-public range out of "the internet", link-local included', () => {
    const { rules, problems } = egressRules({ egress: [{ cidr: '0.0.0.0/0', ports: [443] }] }, []);
    expect(problems).toEqual([]);
    expect(rules).toEqual([
      {
        to: [
          {
            ipBlock: {
              cidr: '0.0.0.0/0',
              except: [
                '0.0.0.0/8',
                '10.0.0.0/8',
                '100.64.0.0/10',
                '127.0.0.0/8',
                '169.254.0.0/16',
                '172.16.0.0/12',
                '192.0.0.0/24',
                '192.168.0.0/16',
                '198.18.0.0/15',
                '224.0.0.0/4',
                '240.0.0.0/4',
              ],
            },
          },
        ],
        ports: [{ protocol: 'TCP', port: 443 }],
      },
    ]);
    const v6 = egressRules({ egress: [{ cidr: '::/0' }] }, []).rules[0]!.to[0]!.ipBlock;
    expect(v6.except).toEqual(expect.arrayContaining(['fc00::/7', 'fe80::/10', '::ffff:0:0/96', '::1/128']));
  });

  it('refuse ranges inside non-public ones unless the operator opened them; link-local never', () => {
    const declared = {
      egress: [
        { cidr: '10.20.1.0/24' },
        { cidr: '169.254.169.254/32' },
        { cidr: '192.168.0.0/16' },
        { cidr: '127.0.0.1' },
        { cidr: '100.100.100.200' },
        { cidr: 'fd00:ec2::254' },
        { cidr: '8.8.8.8/32', ports: [53, '53/udp'] },
      ],
    };
    const closed = egressRules(declared, []);
    expect(closed.problems.map((p) => [p.path.join('.'), p.message])).toEqual([
      [
        'spec.network.egress.0.cidr',
        '10.20.1.0/24 is inside a private range (10.0.0.0/8); functions reach public addresses only (an operator can open ranges with PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS)',
      ],
      [
        'spec.network.egress.1.cidr',
        '169.254.169.254/32 is link-local (cloud metadata); functions never reach 169.254.0.0/16',
      ],
      ['spec.network.egress.2.cidr', expect.stringMatching(/^192\.168\.0\.0\/16 is a private range/)],
      ['spec.network.egress.3.cidr', expect.stringMatching(/inside a loopback range/)],
      ['spec.network.egress.4.cidr', expect.stringMatching(/carrier-grade NAT/)],
      ['spec.network.egress.5.cidr', expect.stringMatching(/the AWS metadata service/)],
    ]);
    expect(closed.rules).toHaveLength(1);

    const opened = egressRules(declared, parseEgressAllowCidrs('10.20.0.0/16'));
    expect(opened.problems.map((p) => p.path[3])).toEqual([1, 2, 3, 4, 5]);
    expect(opened.rules[0]).toEqual({ to: [{ ipBlock: { cidr: '10.20.1.0/24' } }] });
  });

  it('an opened range stays reachable inside a wider declaration; link-local is cut out all the same', () => {
    const { rules } = egressRules({ egress: [{ cidr: '0.0.0.0/0' }] }, parseEgressAllowCidrs('10.0.0.0/8'));
    const except = rules[0]!.to[0]!.ipBlock.except!;
    expect(except).not.toContain('10.0.0.0/8');
    expect(except).toContain('169.254.0.0/16');
    expect(except).toContain('192.168.0.0/16');
  });

  it('the operator cannot open link-local ranges', () => {
    expect(() => parseEgressAllowCidrs('169.254.0.0/16')).toThrow(
      /PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS: "169.254.0.0\/16" overlaps 169.254.0.0\/16 .*never reach it/,
    );
    expect(() => parseEgressAllowCidrs('0.0.0.0/0')).toThrow(/overlaps 169\.254\.0\.0\/16/);
    expect(() => parseEgressAllowCidrs('fe80::/64')).toThrow(/overlaps fe80::\/10/);
    expect(() => parseEgressAllowCidrs('nope')).toThrow(/"nope" must be an address range/);
    expect(parseCidr('10.0.0.0/8')).not.toBeTypeOf('string');
  });
});
