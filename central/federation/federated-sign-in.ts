import { createHash, randomBytes } from 'node:crypto'
import type { Sql } from 'postgres'
import { NotFound } from '../../shared/errors'
import { verifyLogoutToken } from './backchannel-logout'
import { decideIdentity, readProviderClaims, usernameCandidate, type IdentityDecision, type ProviderClaims } from './decide-identity'
import { SignInFailed, SignInRefused } from './errors'
import type { IdentityProvider } from './identity-providers'
import {
  createUserInTransaction,
  findSessionIdByRefreshToken,
  findUserForEmailLink,
  recordIdentityChange,
  revokeSessionById,
  sealing,
  startFederatedSession,
  type FederationDeps,
  type FederationSettings,
  type TokenSet,
} from './ports'
import { FLOW_TTL_SECONDS, MAX_RETURN_TO_BYTES, openPendingFlow, sealPendingFlow } from './pending-flow'
import { RelyingParty } from './relying-party'
import { absoluteReturnTo } from './return-to'
import {
  deleteIdentityLink,
  deleteJustInTimeUser,
  findFederatedSession,
  findLinkedUser,
  findSessionsForLogout,
  insertFederatedSession,
  insertIdentityLink,
  isFlowStateUsed,
  recordLogoutTokenJti,
  recordUsedFlowState,
  type NewIdentityLink,
  touchIdentityLink,
} from './store'

const ID_TOKEN_PURPOSE = 'id-token/v1'

/** Everything the federation domain works with, built once by the route factory. */
export interface Federation {
  deps: FederationDeps
  settings: FederationSettings
  providers: ReadonlyMap<string, IdentityProvider>
  relyingParty: RelyingParty
}

export function createFederation(deps: FederationDeps, providers: readonly IdentityProvider[], settings: FederationSettings): Federation {
  return {
    deps,
    settings,
    providers: new Map(providers.map((p) => [p.id, p])),
    relyingParty: new RelyingParty(deps.sql, settings.keyEncryptionSecret),
  }
}

export function findProvider(federation: Federation, providerId: string): IdentityProvider {
  const provider = federation.providers.get(providerId)
  if (!provider) throw new NotFound('no such identity provider')
  return provider
}

export function redirectUriFor(federation: Federation, provider: IdentityProvider): string {
  return `${federation.settings.publicUrl}/auth/callback/${provider.id}`
}

const sha256 = (value: string) => createHash('sha256').update(value).digest()

/**
 * Starts a sign-in. Nothing is written: the flow's secrets travel sealed in this browser's
 * cookie (see pending-flow), so starting sign-ins costs central no storage.
 */
export async function beginFederatedSignIn(
  federation: Federation,
  input: { providerId: string; returnTo: string },
): Promise<{ redirectTo: string; flowCookie: string }> {
  const provider = findProvider(federation, input.providerId)
  const now = federation.deps.clock()
  const request = await federation.relyingParty.beginSignIn(provider, redirectUriFor(federation, provider), now)
  const flowCookie = sealPendingFlow(federation.settings.keyEncryptionSecret, {
    state: request.state,
    codeVerifier: request.codeVerifier,
    nonce: request.nonce,
    providerId: provider.id,
    returnTo: Buffer.byteLength(input.returnTo) > MAX_RETURN_TO_BYTES ? '/' : input.returnTo,
    expiresAt: new Date(now.getTime() + FLOW_TTL_SECONDS * 1000),
  })
  return { redirectTo: request.url.href, flowCookie }
}

export interface CompletedSignIn {
  tokens: TokenSet
  returnTo: string
  userId: string
  created: boolean
}

/**
 * The provider's callback. Order matters for "nothing half-written": the flow cookie is opened
 * and matched to the callback's state, the code/ID token are checked, the state is recorded as
 * used, and the identity is decided — every refusal happens before the first user, link or
 * session write. Then user + link commit together, then the
 * session with its provider record (one transaction); should that fail, the just-created user
 * (or link) is removed.
 */
export async function completeFederatedSignIn(
  federation: Federation,
  input: { providerId: string; callbackQuery: string; flowCookie: string | undefined; ip: string | null; userAgent: string | null },
): Promise<CompletedSignIn> {
  const provider = findProvider(federation, input.providerId)
  const { deps } = federation
  const query = new URLSearchParams(input.callbackQuery)
  const state = query.get('state')
  if (!state || state.length > 200) throw new SignInFailed('the callback carries no state')
  // Login CSRF: a callback URL planted in another browser lacks this flow's cookie.
  const flow = openPendingFlow(federation.settings.keyEncryptionSecret, input.flowCookie, { providerId: provider.id, state, now: deps.clock() })
  if (!flow) throw new SignInFailed('this sign-in was not started in this browser, has expired or is for another provider')
  const stateHash = sha256(state)
  if (await isFlowStateUsed(deps.sql, stateHash, deps.clock())) throw new SignInFailed('this sign-in was already used')

  const callbackUrl = new URL(`${redirectUriFor(federation, provider)}?${query}`)
  const verified = await federation.relyingParty.completeSignIn(provider, callbackUrl, { state, codeVerifier: flow.codeVerifier, nonce: flow.nonce }, deps.clock())
  // Single use even at a provider that would redeem a code twice: of two callbacks with one
  // state (a copied cookie and URL), only the first to get here goes on.
  if (!(await recordUsedFlowState(deps.sql, { stateHash, expiresAt: flow.expiresAt, now: deps.clock() }))) {
    throw new SignInFailed('this sign-in was already used')
  }
  const issuer = String(verified.claims.iss)
  const claims = readProviderClaims(verified.claims, provider)

  const now = deps.clock()
  const linked = await findLinkedUser(deps.sql, issuer, claims.sub)
  const userWithEmail = !linked && provider.link_by_email && claims.email && claims.emailVerified ? await findUserForEmailLink(deps.sql, claims.email) : undefined
  const decision = decideIdentity({
    provider,
    claims,
    issuer,
    linkedUser: linked && { id: linked.id, enabled: linked.enabled, grant: linked },
    userWithEmail,
  })
  if (decision.kind === 'refused') throw new SignInRefused(decision.reason)

  const written = await writeIdentity(federation, { provider, issuer, claims, decision, now })
  try {
    const started = await startFederatedSession(deps, {
      userId: written.userId,
      grant: decision.grant,
      assertedRoles: decision.assertedRoles,
      providerId: provider.id,
      ip: input.ip,
      userAgent: input.userAgent,
      // In the session's transaction: a back-channel logout that arrives right after the commit
      // must find the session by its provider sid or subject.
      recordProviderSession: async (tx, sessionId) =>
        await insertFederatedSession(tx, {
          sessionId,
          providerId: provider.id,
          issuer,
          subject: claims.sub,
          providerSid: claims.sid ?? null,
          idTokenSealed: sealing.seal(sealing.key(federation.settings.keyEncryptionSecret, ID_TOKEN_PURPOSE), Buffer.from(verified.idToken), sessionId),
          now,
        }),
    })
    if (started.kind === 'refused') throw new SignInRefused('this account is disabled')
    return { tokens: started.tokens, returnTo: flow.returnTo, userId: written.userId, created: written.createdUser }
  } catch (error) {
    await undoIdentity(federation, { issuer, subject: claims.sub, ...written })
    throw error
  }
}

interface WrittenIdentity {
  userId: string
  createdUser: boolean
  createdLink: boolean
}

/** Creates the user (just in time) and the link in one transaction; on a lost race, uses the winner's. */
async function writeIdentity(
  federation: Federation,
  input: { provider: IdentityProvider; issuer: string; claims: ProviderClaims; decision: Exclude<IdentityDecision, { kind: 'refused' }>; now: Date },
): Promise<WrittenIdentity> {
  const { provider, issuer, claims, decision, now } = input
  const { sql } = federation.deps
  const link = { issuer, subject: claims.sub, providerId: provider.id, email: claims.email ?? null, now }
  if (decision.kind === 'linked') {
    await touchIdentityLink(sql, { issuer, subject: claims.sub, email: claims.email ?? null, now })
    return { userId: decision.userId, createdUser: false, createdLink: false }
  }
  try {
    return await writeUserAndLink(sql, { provider, issuer, claims, decision, now, link })
  } catch (error) {
    if (!(error instanceof LinkedConcurrently)) throw error
  }
  const winner = await findLinkedUser(sql, issuer, claims.sub)
  if (!winner) throw new SignInFailed('the identity link changed during sign-in; try again')
  return { userId: winner.id, createdUser: false, createdLink: false }
}

/** Thrown inside the transaction so that it rolls back: returning would commit the user we just created. */
class LinkedConcurrently extends Error {}

async function writeUserAndLink(
  sql: Sql,
  input: { provider: IdentityProvider; issuer: string; claims: ProviderClaims; decision: Exclude<IdentityDecision, { kind: 'refused' | 'linked' }>; now: Date; link: Omit<NewIdentityLink, 'userId'> },
): Promise<WrittenIdentity> {
  const { provider, issuer, claims, decision, now, link } = input
  return await sql.begin(async (tx) => {
    let userId: string
    if (decision.kind === 'link_existing') {
      userId = decision.userId
    } else {
      let created: string | undefined
      for (let attempt = 0; attempt < 10 && !created; attempt++) {
        created = await createUserInTransaction(tx, { username: usernameCandidate(decision.usernameBase, attempt), grant: decision.userGrant, now, providerId: provider.id, issuer, subject: claims.sub })
      }
      created ??= await createUserInTransaction(tx, { username: `${decision.usernameBase}-${randomBytes(4).toString('hex')}`, grant: decision.userGrant, now, providerId: provider.id, issuer, subject: claims.sub })
      if (!created) throw new Error('no free username for a new user')
      userId = created
    }
    // A concurrent first sign-in of the same person linked it first: roll back ours, use theirs.
    if (!(await insertIdentityLink(tx, { ...link, userId }))) throw new LinkedConcurrently()
    await recordIdentityChange(tx, { userId, actor: `provider:${provider.id}`, now, change: 'identity_linked', providerId: provider.id, issuer, subject: claims.sub })
    return { userId, createdUser: decision.kind === 'create', createdLink: true }
  })
}

/** Compensation when the session could not be started after the identity was written. */
async function undoIdentity(federation: Federation, input: WrittenIdentity & { issuer: string; subject: string }): Promise<void> {
  const { sql } = federation.deps
  if (input.createdUser) await deleteJustInTimeUser(sql, input.userId)
  else if (input.createdLink) await deleteIdentityLink(sql, { issuer: input.issuer, subject: input.subject, userId: input.userId })
}

/**
 * A new sign-in in a browser that still holds another session's refresh cookie: that session is
 * revoked, as its cookies are about to be overwritten and nobody could end it from here any more.
 * Only a token that is its session's current or previous one counts (a forged cookie ends nothing).
 */
export async function endReplacedSession(federation: Federation, input: { refreshToken: string | undefined; newSessionId: string }): Promise<void> {
  const { deps } = federation
  const sessionId = input.refreshToken ? await findSessionIdByRefreshToken(deps, input.refreshToken) : undefined
  if (!sessionId || sessionId === input.newSessionId) return
  await revokeSessionById(deps.sql, { sessionId, actor: 'user', reason: 'replaced by a new sign-in', now: deps.clock() })
}

/**
 * Ends the browser's session (found by its refresh token) and says where to go next: the
 * provider's end_session_endpoint when the session came from a provider that has one
 * (OIDC RP-Initiated Logout 1.0 §2), else `returnTo`.
 */
export async function endFederatedSession(federation: Federation, input: { refreshToken: string | undefined; returnTo: string }): Promise<string> {
  const { deps, settings } = federation
  const now = deps.clock()
  const sessionId = input.refreshToken ? await findSessionIdByRefreshToken(deps, input.refreshToken) : undefined
  if (!sessionId) return input.returnTo
  await revokeSessionById(deps.sql, { sessionId, actor: 'user', reason: 'sign-out', now })
  const federated = await findFederatedSession(deps.sql, sessionId)
  const provider = federated && federation.providers.get(federated.providerId)
  if (!federated || !provider) return input.returnTo
  const parameters: Record<string, string> = { post_logout_redirect_uri: absoluteReturnTo(input.returnTo, settings.publicUrl) }
  if (federated.idTokenSealed) {
    try {
      parameters.id_token_hint = sealing.open(sealing.key(settings.keyEncryptionSecret, ID_TOKEN_PURPOSE), federated.idTokenSealed, sessionId).toString('utf8')
    } catch {
      // A rotated KEY_ENCRYPTION_SECRET: log out without the hint (the provider may ask to confirm).
    }
  }
  try {
    const url = await federation.relyingParty.buildEndSessionUrl(provider, parameters, now)
    return url?.href ?? input.returnTo
  } catch {
    // The portcullis session is over either way; a provider that is down only loses its logout.
    return input.returnTo
  }
}

/**
 * OpenID Connect Back-Channel Logout 1.0: verifies the logout token, records its jti, and revokes
 * the sessions it names through the sessions domain (so they reach the edge's revocation feed),
 * all in one transaction. Returns the number of sessions revoked.
 * @see https://openid.net/specs/openid-connect-backchannel-1_0.html#BCRequest
 */
export async function applyBackchannelLogout(federation: Federation, input: { providerId: string; logoutToken: string }): Promise<number> {
  const provider = findProvider(federation, input.providerId)
  const { deps } = federation
  const now = deps.clock()
  const verification = await federation.relyingParty.logoutTokenVerification(provider)
  const check = await verifyLogoutToken(input.logoutToken, { ...verification, clientId: provider.client_id, now })
  if (check.kind === 'invalid') throw new SignInFailed(check.reason)
  const { request } = check
  return await deps.sql.begin(async (tx) => {
    if (!(await recordLogoutTokenJti(tx, { issuer: verification.issuer, jti: request.jti, expiresAt: request.rememberUntil, now }))) {
      throw new SignInFailed('logout token was already used')
    }
    const sessionIds = await findSessionsForLogout(tx, { providerId: provider.id, issuer: verification.issuer, sid: request.sid, sub: request.sub })
    let revoked = 0
    for (const sessionId of sessionIds) {
      if (await revokeSessionById(tx, { sessionId, actor: `provider:${provider.id}`, reason: 'back-channel logout', now })) revoked++
    }
    return revoked
  })
}
