/**
 * What a function's pods may reach on the network (kubernetes runtime): `spec.network.egress`, a
 * list of address ranges (CIDRs) with optional ports. Function pods run in a namespace whose
 * NetworkPolicies deny everything but DNS (deploy/functions.yaml); the worker turns a spec's egress
 * into one more NetworkPolicy for its pods (activities/kubernetes/network.ts).
 *
 * The rule, the same as for webhooks (core/webhook-destination.ts): only public addresses unless the
 * operator opens ranges with PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS. A declared range that lies inside
 * a non-public range (private, carrier-grade NAT, loopback, …) is refused unless an opened range
 * holds it; a declared range that holds non-public ranges (0.0.0.0/0) gets them as `except`, so
 * "the internet" never includes the cluster's own pods and Services, where the control plane lives.
 * Link-local ranges (169.254.0.0/16, fe80::/10: the cloud metadata service) can never be opened.
 *
 * Pure module (the function controller's Update validator runs the schema part in a workflow).
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;
export type Cidr = readonly [Addr, number];
/** Operator-opened ranges, parsed once (`parseEgressAllowCidrs`). */
export type EgressAllowCidrs = readonly Cidr[];

/** The operator's variable (worker and API). */
export const EGRESS_ALLOW_CIDRS_ENV = 'PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS';
export const EGRESS_LIMITS = { rules: 20, portsPerRule: 20 } as const;

const v4 = (text: string): Cidr => ipaddr.IPv4.parseCIDR(text);
const v6 = (text: string): Cidr => ipaddr.IPv6.parseCIDR(text);

/** Never reachable from a function, whatever the spec or the operator says: cloud metadata lives here. */
export const NEVER_RANGES: readonly [Cidr, string][] = [
  [v4('169.254.0.0/16'), 'link-local (cloud metadata)'],
  [v6('fe80::/10'), 'link-local'],
  [v6('fd00:ec2::254/128'), 'the AWS metadata service'],
];

/** Ranges that are not the public internet: excepted from a declared range unless opened. */
export const NON_PUBLIC_RANGES: readonly [Cidr, string][] = [
  [v4('0.0.0.0/8'), '"this network"'],
  [v4('10.0.0.0/8'), 'private'],
  [v4('100.64.0.0/10'), 'shared (carrier-grade NAT)'],
  [v4('127.0.0.0/8'), 'loopback'],
  [v4('169.254.0.0/16'), 'link-local (cloud metadata)'],
  [v4('172.16.0.0/12'), 'private'],
  [v4('192.0.0.0/24'), 'IETF protocol assignments'],
  [v4('192.168.0.0/16'), 'private'],
  [v4('198.18.0.0/15'), 'benchmarking'],
  [v4('224.0.0.0/4'), 'multicast'],
  [v4('240.0.0.0/4'), 'reserved'],
  [v6('::/128'), 'unspecified'],
  [v6('::1/128'), 'loopback'],
  [v6('::ffff:0:0/96'), 'IPv4-mapped'],
  [v6('64:ff9b::/96'), 'NAT64'],
  [v6('64:ff9b:1::/48'), 'NAT64 (local use)'],
  [v6('100::/64'), 'discard-only'],
  [v6('fc00::/7'), 'private (unique local)'],
  [v6('fe80::/10'), 'link-local'],
  [v6('fec0::/10'), 'site-local'],
  [v6('ff00::/8'), 'multicast'],
];

const PORT_RE = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i;
export const PORT_HELP =
  'a port 1–65535, a range "8000-8100", either with "/tcp" (default), "/udp" or "/sctp"';
export const CIDR_HELP = 'an address range such as 203.0.113.0/24 or 2001:db8::/32 (or one address)';

export interface EgressPort {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: number;
  endPort?: number;
}

/** `443` → TCP 443; `"53/udp"`; `"8000-8100"`. Undefined when it is not one. */
export function parsePort(value: number | string): EgressPort | undefined {
  const m = PORT_RE.exec(String(value).trim());
  if (!m) return undefined;
  const port = Number(m[1]);
  const endPort = m[2] === undefined ? undefined : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  if (endPort !== undefined && (endPort <= port || endPort > 65535)) return undefined;
  const protocol = (m[3]?.toUpperCase() ?? 'TCP') as EgressPort['protocol'];
  return { protocol, port, ...(endPort !== undefined ? { endPort } : {}) };
}

/** "203.0.113.0/24" or one address (its own /32 or /128); a range with host bits set is refused. */
export function parseCidr(text: string): Cidr | string {
  const t = text.trim();
  try {
    if (!t.includes('/')) {
      const a = ipaddr.parse(t);
      return [a, a.kind() === 'ipv4' ? 32 : 128];
    }
    const [addr, bits] = ipaddr.parseCIDR(t);
    const network = networkOf(addr, bits);
    if (network.toString() !== addr.toString()) {
      return `has host bits set: write ${network.toString()}/${bits}`;
    }
    return [addr, bits];
  } catch {
    return `must be ${CIDR_HELP}`;
  }
}

function networkOf(addr: Addr, bits: number): Addr {
  return addr.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${bits}`)
    : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${bits}`);
}

export function cidrText([addr, bits]: Cidr): string {
  return `${addr.toString()}/${bits}`;
}

/** `inner` lies inside `outer` (same family, outer's prefix not longer). */
export function within(inner: Cidr, outer: Cidr): boolean {
  return inner[0].kind() === outer[0].kind() && inner[1] >= outer[1] && inner[0].match(outer[0], outer[1]);
}

function overlaps(a: Cidr, b: Cidr): boolean {
  return within(a, b) || within(b, a);
}

export class EgressAllowCidrsError extends Error {
  override name = 'EgressAllowCidrsError';
}

/** PONTOON_FUNCTION_EGRESS_ALLOW_CIDRS: ranges functions may reach besides public ones; never link-local. */
export function parseEgressAllowCidrs(text: string | undefined): EgressAllowCidrs {
  const out: Cidr[] = [];
  for (const item of (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const c = parseCidr(item);
    if (typeof c === 'string') throw new EgressAllowCidrsError(`${EGRESS_ALLOW_CIDRS_ENV}: "${item}" ${c}`);
    const never = NEVER_RANGES.find(([r]) => overlaps(c, r));
    if (never) {
      throw new EgressAllowCidrsError(
        `${EGRESS_ALLOW_CIDRS_ENV}: "${item}" overlaps ${cidrText(never[0])} (${never[1]}); functions can never reach it`,
      );
    }
    out.push(c);
  }
  return out;
}

/** One NetworkPolicy egress rule (networking.k8s.io/v1), as the worker sends it. */
export interface EgressRule {
  to: { ipBlock: { cidr: string; except?: string[] } }[];
  ports?: EgressPort[];
}

export interface EgressProblem {
  path: (string | number)[];
  message: string;
}

const ONLY_PUBLIC = `functions reach public addresses only (an operator can open ranges with ${EGRESS_ALLOW_CIDRS_ENV})`;

/**
 * The NetworkPolicy egress rules of a spec's `network.egress` under the operator's opened ranges, or
 * the problems (located) of the ranges the rule refuses. No rules: the function reaches DNS only.
 */
export function egressRules(
  network: NetworkSpec | undefined,
  allow: EgressAllowCidrs,
): { rules: EgressRule[]; problems: EgressProblem[] } {
  const rules: EgressRule[] = [];
  const problems: EgressProblem[] = [];
  (network?.egress ?? []).forEach((e, i) => {
    const path = ['spec', 'network', 'egress', i, 'cidr'];
    const c = parseCidr(e.cidr);
    if (typeof c === 'string') {
      problems.push({ path, message: c });
      return;
    }
    const never = NEVER_RANGES.find(([r]) => within(c, r));
    if (never) {
      problems.push({
        path,
        message: `${cidrText(c)} is ${never[1]}; functions never reach ${cidrText(never[0])}`,
      });
      return;
    }
    const opened = allow.some((o) => within(c, o));
    const inside = NON_PUBLIC_RANGES.find(([r]) => within(c, r));
    if (inside && !opened) {
      problems.push({
        path,
        message: `${cidrText(c)} is ${within(inside[0], c) ? 'a' : 'inside a'} ${inside[1]} range (${cidrText(inside[0])}); ${ONLY_PUBLIC}`,
      });
      return;
    }
    // Non-public ranges strictly inside the declared one are cut out, unless an opened range holds
    // them; link-local always.
    const except = [
      ...NEVER_RANGES.filter(([r]) => within(r, c) && cidrText(r) !== cidrText(c)).map(([r]) => r),
      ...NON_PUBLIC_RANGES.filter(
        ([r]) => within(r, c) && cidrText(r) !== cidrText(c) && !allow.some((o) => within(r, o)),
      ).map(([r]) => r),
    ];
    const exceptTexts = [...new Set(except.map(cidrText))].sort();
    const ports = (e.ports ?? []).map((p) => parsePort(p)!).filter(Boolean);
    rules.push({
      to: [{ ipBlock: { cidr: cidrText(c), ...(exceptTexts.length ? { except: exceptTexts } : {}) } }],
      ...(ports.length ? { ports } : {}),
    });
  });
  return { rules, problems };
}

/** The spec field (core/schema.ts puts it at spec.network). */
export function networkSchema() {
  const port = z
    .union([z.number(), z.string()], { error: `must be ${PORT_HELP}` })
    .refine((p) => parsePort(p) !== undefined, { error: `must be ${PORT_HELP}` })
    .describe(`Destination port: ${PORT_HELP}.`);
  const rule = z
    .strictObject({
      cidr: z
        .string()
        .superRefine((text, ctx) => {
          const c = parseCidr(text);
          if (typeof c === 'string') ctx.addIssue({ code: 'custom', message: c });
        })
        .describe(
          `Destination range: ${CIDR_HELP}. Public addresses only, unless the operator opened the range (${EGRESS_ALLOW_CIDRS_ENV}); private, loopback and other non-public ranges inside it are left out, link-local (169.254.0.0/16, the cloud metadata service) always.`,
        ),
      ports: z
        .array(port)
        .min(1)
        .max(EGRESS_LIMITS.portsPerRule)
        .optional()
        .describe('Destination ports; unset: every port and protocol.'),
    })
    .describe('Addresses (and ports) the function may connect to.');
  return z
    .strictObject({
      egress: z
        .array(rule)
        .max(EGRESS_LIMITS.rules)
        .default([])
        .describe(
          'Where the function may connect to besides DNS (kubernetes runtime: a NetworkPolicy for its pods). Empty: DNS only.',
        ),
    })
    .describe(
      "The function's network access (kubernetes runtime; enforced by the cluster's NetworkPolicy implementation).",
    );
}

export type NetworkSpec = z.output<ReturnType<typeof networkSchema>>;
