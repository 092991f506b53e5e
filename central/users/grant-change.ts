import { ADMIN_ROLE } from '../../shared/access-token-claims'
import type { FullGrant } from '../sessions/narrow-grant'

/** Some of a grant's three lists; an absent list is left as it is. */
export type PartialGrant = Partial<FullGrant>

/**
 * How an admin changes what a user holds. Explicit on purpose: `edit` adds and removes named
 * values and leaves everything else alone; only `replace` sets whole lists, and only the lists
 * it names. Sending the new list where an addition was meant (`{"roles": ["admin"]}`) once
 * silently removed every other role, `portcullis:admin` included.
 */
export type GrantChange = { kind: 'edit'; add: PartialGrant; remove: PartialGrant } | { kind: 'replace'; grant: PartialGrant }

export const GRANT_PARTS = ['audiences', 'scopes', 'roles'] as const

/** The grant after the change: `replace` sets the lists it names; `edit` adds (in order, once) then removes. */
export function applyGrantChange(previous: FullGrant, change: GrantChange): FullGrant {
  const next = { ...previous }
  for (const part of GRANT_PARTS) {
    if (change.kind === 'replace') {
      const list = change.grant[part]
      if (list) next[part] = unique(list)
      continue
    }
    const removed = new Set(change.remove[part] ?? [])
    next[part] = unique([...previous[part], ...(change.add[part] ?? [])]).filter((g) => !removed.has(g))
  }
  return next
}

export interface GrantDiff {
  added: FullGrant
  removed: FullGrant
}

/** What a change actually did: values now held that were not, and values held before that are gone. */
export function diffGrants(before: FullGrant, after: FullGrant): GrantDiff {
  const added = { audiences: [], scopes: [], roles: [] } as FullGrant
  const removed = { audiences: [], scopes: [], roles: [] } as FullGrant
  for (const part of GRANT_PARTS) {
    added[part] = after[part].filter((g) => !before[part].includes(g))
    removed[part] = before[part].filter((g) => !after[part].includes(g))
  }
  return { added, removed }
}

/** Values both added and removed in one edit: the intent is unclear, so the change is refused. */
export function contradictoryValues(change: GrantChange): string[] {
  if (change.kind === 'replace') return []
  return GRANT_PARTS.flatMap((part) => (change.add[part] ?? []).filter((g) => (change.remove[part] ?? []).includes(g)))
}

/**
 * Whether a change may take console access from this user (the admin role, or the user itself by
 * disabling): such a change must not leave the console without any enabled admin.
 */
export function mayTakeConsoleAccess(change: { grantChange?: GrantChange; enabled?: boolean }): boolean {
  if (change.enabled === false) return true
  const grant = change.grantChange
  if (!grant) return false
  return grant.kind === 'replace' ? grant.grant.roles !== undefined : (grant.remove.roles ?? []).includes(ADMIN_ROLE)
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)]
}
