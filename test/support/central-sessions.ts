import type { AppDeps } from '../../central/app-deps'
import { startSession, type SessionStart } from '../../central/sessions/start-session'
import type { TokenSet } from '../../central/sessions/token-set'

/**
 * Starts a session the way `POST /admin/sessions` does (no password to re-check) and returns its
 * tokens; a refusal fails the test. `method` may be overridden.
 */
export async function startTestSession(deps: AppDeps, start: Omit<SessionStart, 'method'> & Partial<Pick<SessionStart, 'method'>>): Promise<TokenSet> {
  const started = await startSession(deps, { method: { kind: 'vouched' }, ...start })
  if (started.kind !== 'started') throw new Error('startSession refused the test user')
  return started.tokens
}
