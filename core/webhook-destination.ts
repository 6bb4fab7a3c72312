/**
 * Where a webhook (`spec.notify[].url`) may be sent. A hook is a request the worker makes on a spec
 * author's behalf, from inside the cluster: without a rule it reaches the cloud metadata service
 * (169.254.169.254 hands out instance credentials), the worker's own loopback services, and every
 * private address of the cluster and the office network (server-side request forgery).
 *
 * The rule: only public unicast addresses, unless the operator opens ranges with
 * PONTOON_NOTIFY_ALLOW_CIDRS (e.g. "10.20.0.0/16,127.0.0.1/32"). Names are judged by the addresses
 * they resolve to, when the hook is sent (activities/notify.ts); literal addresses and the cloud
 * metadata names are refused already when the spec is applied. Metadata names are refused
 * even when an allowlist covers their address: no webhook ever needs one. Pure module (ipaddr.js).
 */
import ipaddr from 'ipaddr.js';

/** Operator-opened ranges, parsed once (`parseAllowCidrs`). */
export type AllowCidrs = readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];

/** The operator's allowlist variable (worker and API). */
export const NOTIFY_ALLOW_CIDRS_ENV = 'PONTOON_NOTIFY_ALLOW_CIDRS';

/**
 * Names of cloud metadata services (GCP, AWS, Azure, Alibaba, OpenStack), lower case, no trailing dot.
 * Their addresses are link-local, so resolution catches them too; naming them here refuses them at apply.
 */
const METADATA_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.com',
  'metadata.platformequinix.com',
]);

export class AllowCidrsError extends Error {
  override name = 'AllowCidrsError';
}

/** "10.0.0.0/8, 127.0.0.1/32, fd00::/8" → ranges; a bare address is its own /32 or /128. */
export function parseAllowCidrs(text: string | undefined): AllowCidrs {
  const out: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (const item of (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    try {
      if (item.includes('/')) out.push(ipaddr.parseCIDR(item));
      else {
        const a = ipaddr.parse(item);
        out.push([a, a.kind() === 'ipv4' ? 32 : 128]);
      }
    } catch {
      throw new AllowCidrsError(
        `${NOTIFY_ALLOW_CIDRS_ENV}: "${item}" is not an address range; write CIDRs separated by commas, e.g. 10.20.0.0/16,127.0.0.1/32`,
      );
    }
  }
  return out;
}

const ONLY_PUBLIC = `webhooks go to public addresses only (an operator can open ranges with ${NOTIFY_ALLOW_CIDRS_ENV})`;

/** Why an address may not receive a webhook, or undefined when it may. */
export function refusedAddress(address: string, allow: AllowCidrs): string | undefined {
  let a: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // process(): an IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address it is.
    a = ipaddr.process(address.replace(/^\[|\]$/g, ''));
  } catch {
    return `"${address}" is not an IP address`;
  }
  if (allow.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits))) return undefined;
  const range = a.range();
  if (range === 'unicast') return undefined;
  return `${a.toString()} is a ${RANGE_NAMES[range] ?? range} address; ${ONLY_PUBLIC}`;
}

const RANGE_NAMES: Record<string, string> = {
  loopback: 'loopback',
  linkLocal: 'link-local (cloud metadata)',
  private: 'private',
  uniqueLocal: 'private (unique local)',
  carrierGradeNat: 'shared (carrier-grade NAT)',
  unspecified: 'unspecified',
  multicast: 'multicast',
  broadcast: 'broadcast',
  reserved: 'reserved',
};

/**
 * What can be said of a hook URL without resolving names: a refusal for a literal address outside
 * the rule or a cloud metadata name; undefined otherwise (names, `localhost` included, are judged by
 * what they resolve to when the hook is sent).
 */
export function refusedWebhookUrl(url: string, allow: AllowCidrs): string | undefined {
  let host: string;
  try {
    // The WHATWG parser writes every IPv4 spelling (0x7f.1, 2130706433, 0177.0.0.1) as dotted decimal.
    host = new URL(url).hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return undefined; // the schema's URL rule reports it
  }
  if (METADATA_NAMES.has(host)) return `${host} is a cloud metadata service; webhooks never go there`;
  const literal = host.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(literal)) return refusedAddress(literal, allow);
  return undefined;
}
