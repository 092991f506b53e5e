import { isIP } from 'node:net'

/** An address for an `inet` column, or null: `inet` rejects anything else, and a bad client address must not become an error. */
export function toInet(ip: string | null | undefined): string | null {
  return ip && isIP(ip) ? ip : null
}
