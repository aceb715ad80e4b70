/**
 * Several checkouts (or test runs) on one machine must not share lab link names or subnets.
 * STANZACTL_TEST_SLOT=1..8 moves every test lab to a slot of its own: the prefix's second letter
 * becomes the slot's digit and the subnet's second octet moves up by the slot (10.231 -> 10.23x).
 */
export function slotted(prefix: string, subnet: string): { prefix: string; subnet: string } {
  const raw = process.env.STANZACTL_TEST_SLOT;
  if (raw === undefined || raw === '' || raw === '0') return { prefix, subnet };
  const slot = Number(raw);
  if (!Number.isInteger(slot) || slot < 1 || slot > 8) throw new Error(`STANZACTL_TEST_SLOT must be 1-8, not ${raw}`);
  const [a, b, ...rest] = subnet.split('.');
  return { prefix: `${prefix[0]}${slot}${prefix.slice(2)}`, subnet: [a, String(Number(b) + slot), ...rest].join('.') };
}
