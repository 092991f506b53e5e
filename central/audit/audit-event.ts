export type AuditEventType =
  | 'session.created'
  | 'session.refreshed'
  | 'session.reuse_detected'
  | 'session.revoked'
  | 'user.created'
  | 'user.updated'
  | 'user.disabled'
  | 'user.enabled'
  | 'user.sessions_revoked'
  | 'user.login_failed'
  | 'user.unlocked'
  | 'key.created'
  | 'key.activated'
  | 'key.retired'
  | 'key.unpublished'
  | 'console.sign_in'
  | 'console.sign_out'
  | 'client.created'
  | 'client.updated'
  | 'client.secret_rotated'
  | 'client.disabled'
  | 'client.enabled'
  | 'client.deleted'
  | 'client.tokens_revoked'

export interface AuditEventInput {
  type: AuditEventType
  at: Date
  /** 'user', 'system', or 'admin:<name>' — who made the change. */
  actor: string
  userId?: string | null
  sessionId?: string | null
  reason?: string | null
  /** Extra facts (IP, user agent, presenters of a reused token). Never tokens or passwords. */
  details?: Record<string, unknown>
}

export interface AuditEvent {
  id: string
  at: Date
  type: AuditEventType
  actor: string
  userId: string | null
  sessionId: string | null
  reason: string | null
  details: Record<string, unknown>
  /** The user's current username (null for no user, or a user since deleted). */
  username: string | null
}
