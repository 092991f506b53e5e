import { jwtVerify, type JWTVerifyGetKey } from 'jose'

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'

/** Seconds of clock difference tolerated on iat/exp, as for ID tokens. */
const CLOCK_TOLERANCE_SECONDS = 30
/** A logout token older than this is refused even without exp (OIDC Back-Channel Logout 1.0 §2.6 step 6 "recent enough"). */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 300

export interface LogoutRequest {
  jti: string
  sid?: string
  sub?: string
  /** Until when the jti must be remembered (after that the token fails its time checks anyway). */
  rememberUntil: Date
}

export type LogoutTokenCheck = { kind: 'valid'; request: LogoutRequest } | { kind: 'invalid'; reason: string }

/**
 * Validates a logout token as OIDC Back-Channel Logout 1.0 §2.6 requires: signature with the
 * provider's keys and ID-token algorithms, `iss`, `aud` = our client_id, `iat` (and `exp` when
 * present), the back-channel `events` member, `sid` or `sub`, and no `nonce` (so an ID token
 * cannot be passed off as one). The jti replay check (step 8) needs the database: the caller's.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#Validation
 */
export async function verifyLogoutToken(
  token: string,
  expect: { issuer: string; clientId: string; keys: JWTVerifyGetKey; algorithms: string[] | undefined; now: Date },
): Promise<LogoutTokenCheck> {
  let payload: Record<string, unknown>
  try {
    ;({ payload } = await jwtVerify(token, expect.keys, {
      issuer: expect.issuer,
      audience: expect.clientId,
      // §2.6 step 3: the alg the provider uses for ID tokens; never "none" or a MAC.
      algorithms: (expect.algorithms ?? ['RS256']).filter((alg) => alg !== 'none' && !alg.startsWith('HS')),
      currentDate: expect.now,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
      requiredClaims: ['iat', 'jti', 'events'],
    }))
  } catch (error) {
    return { kind: 'invalid', reason: `logout token failed verification (${(error as { code?: string }).code ?? 'invalid'})` }
  }
  const events = payload.events
  if (!events || typeof events !== 'object' || Array.isArray(events) || !(BACKCHANNEL_LOGOUT_EVENT in events)) {
    return { kind: 'invalid', reason: 'logout token lacks the back-channel logout event' }
  }
  const member = (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT]
  if (!member || typeof member !== 'object' || Array.isArray(member)) return { kind: 'invalid', reason: 'logout token event member must be an object' }
  if ('nonce' in payload) return { kind: 'invalid', reason: 'logout token must not contain a nonce' }
  const sid = typeof payload.sid === 'string' && payload.sid.length > 0 ? payload.sid : undefined
  const sub = typeof payload.sub === 'string' && payload.sub.length > 0 ? payload.sub : undefined
  if (!sid && !sub) return { kind: 'invalid', reason: 'logout token names neither sid nor sub' }
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 500) return { kind: 'invalid', reason: 'logout token jti is not valid' }
  // maxTokenAge refuses the token from iat + max age + tolerance on, so the jti need not outlive that.
  const rememberUntil = new Date(((payload.iat as number) + LOGOUT_TOKEN_MAX_AGE_SECONDS + CLOCK_TOLERANCE_SECONDS + 1) * 1000)
  return { kind: 'valid', request: { jti: payload.jti, ...(sid ? { sid } : {}), ...(sub ? { sub } : {}), rememberUntil } }
}
