import type { Context } from 'hono'
import { getConnInfo } from '@hono/node-server/conninfo'
import { isIP } from 'node:net'
import type { Config } from '../config'

/**
 * The client's address: the first X-Forwarded-For entry when TRUST_PROXY is on (the edge or a
 * load balancer sets it), else the socket peer. '' when unknown (e.g. in-process requests).
 * Never trusted without TRUST_PROXY: anyone can send the header.
 */
export function clientIp(c: Context, config: Config): string {
  if (config.TRUST_PROXY) {
    const forwarded = c.req.header('X-Forwarded-For')?.split(',')[0]?.trim()
    if (forwarded && isIP(forwarded)) return forwarded
  }
  try {
    return getConnInfo(c).remote.address ?? ''
  } catch {
    return ''
  }
}

/** User agent as sent, capped so a huge header cannot bloat the sessions table. */
export function clientUserAgent(c: Context): string | null {
  return c.req.header('User-Agent')?.slice(0, 512) ?? null
}
