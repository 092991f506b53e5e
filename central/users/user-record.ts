/** A user row as central's domain sees it. `passwordHash` never leaves the users folder's callers. */
export interface UserRecord {
  id: string
  username: string
  /** argon2id PHC string; null for subjects authenticated by another system (`POST /admin/sessions`). */
  passwordHash: string | null
  enabled: boolean
  audiences: string[]
  scopes: string[]
  roles: string[]
  /** "Log out everywhere": access tokens issued before this instant are dead at the edge. */
  notBefore: Date | null
  createdAt: Date
  updatedAt: Date
}

/** What the admin API and the console show about a user: everything but the password hash. */
export type UserView = Omit<UserRecord, 'passwordHash'> & { hasPassword: boolean }

export function toUserView(user: UserRecord): UserView {
  const { passwordHash, ...rest } = user
  return { ...rest, hasPassword: passwordHash !== null }
}
