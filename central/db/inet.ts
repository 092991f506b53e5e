import { isIP } from 'node:net'

/**
 * An address for an `inet` column, or null: `inet` rejects anything else, and a bad client
 * address must not become an error. An IPv6 zone index (`fe80::1%eth0`, RFC 4007 §11) is
 * dropped: `isIP` accepts it but `inet` does not (22P02, so the login or refresh failed), and it
 * names an interface of the host that saw the address, meaningless anywhere else.
 */
export function toInet(ip: string | null | undefined): string | null {
  if (!ip) return null
  const address = isIP(ip) === 6 ? ip.replace(/%.*$/, '') : ip
  return isIP(address) ? address : null
}
