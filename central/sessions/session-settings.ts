import type { Sql } from 'postgres'
import type { Clock } from '../clock'
import { LOCAL_KEY_ENCRYPTION_SECRET, type Config } from '../config'
import { deriveChainKey } from './refresh-token'

/** Session lifetimes and rotation rules in domain names, derived once from Config. */
export interface SessionSettings {
  /** A session not refreshed for this long ends (slid forward by every rotation). */
  idleTtlSeconds: number
  /** A session ends this long after it started, however often it refreshes. */
  absoluteTtlSeconds: number
  /** A rotated refresh token presented again this soon gets the same successor: a retry, not a theft. */
  graceSeconds: number
  /** `iss` of access tokens, and their audience when the session holds none. */
  issuer: string
  /** Tags refresh tokens so an older one can prove reuse (see refresh-token.ts). */
  chainKey: Buffer
  /** Write a `session.refreshed` audit event per rotation (AUDIT_REFRESH_EVENTS). */
  recordRefreshEvents: boolean
}

export function sessionSettingsFrom(config: Config): SessionSettings {
  return {
    idleTtlSeconds: config.REFRESH_IDLE_TTL_SECONDS,
    absoluteTtlSeconds: config.REFRESH_ABSOLUTE_TTL_SECONDS,
    graceSeconds: config.REFRESH_GRACE_SECONDS,
    issuer: config.ISSUER,
    chainKey: deriveChainKey(config.KEY_ENCRYPTION_SECRET ?? LOCAL_KEY_ENCRYPTION_SECRET),
    recordRefreshEvents: config.AUDIT_REFRESH_EVENTS,
  }
}

/**
 * What starting and refreshing a session need. `config` is only handed on to tokens/, which
 * reads its own settings (signing-key secret, access-token lifetime).
 */
export interface SessionDeps {
  sql: Sql
  clock: Clock
  config: Config
  sessions: SessionSettings
}

