import { randomBytes } from 'node:crypto'
import type { Sql } from 'postgres'
import { hashPassword } from '../../central/users/passwords'

export interface TestUser {
  id: string
  username: string
  password: string | null
  audiences: string[]
  scopes: string[]
  roles: string[]
}

/**
 * Inserts a user row directly (tests of sessions should not depend on the admin API).
 * With `password`, its argon2id hash is stored so the user can log in.
 */
export async function insertTestUser(
  sql: Sql,
  input: { username?: string; password?: string; audiences?: string[]; scopes?: string[]; roles?: string[]; enabled?: boolean } = {},
): Promise<TestUser> {
  const username = input.username ?? `user-${randomBytes(4).toString('hex')}`
  const audiences = input.audiences ?? ['https://api.example.test', 'https://billing.example.test']
  const scopes = input.scopes ?? ['read', 'write']
  const roles = input.roles ?? []
  const passwordHash = input.password ? await hashPassword(input.password) : null
  const [row] = await sql<{ id: string }[]>`
    insert into users (username, password_hash, enabled, audiences, scopes, roles)
    values (${username}, ${passwordHash}, ${input.enabled ?? true}, ${audiences}, ${scopes}, ${roles})
    returning id`
  return { id: row!.id, username, password: input.password ?? null, audiences, scopes, roles }
}
