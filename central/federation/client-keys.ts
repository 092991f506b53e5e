import { randomUUID } from 'node:crypto'
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose'
import type { Queryable } from '../db/pool'
import type { IdentityProvider } from './identity-providers'
import { sealing } from './ports'
import { findClientKeys, insertOrFindClientKey } from './store'

const PURPOSE = 'client-key/v1'

export interface ClientKey {
  kid: string
  key: CryptoKey
}

/**
 * The ES256 key central signs its client assertions with at this provider (RFC 7523 §2.2,
 * `private_key_jwt`), created on first use; every instance converges on the row that won.
 */
export async function loadClientKey(sql: Queryable, secret: string, providerId: string, now: Date): Promise<ClientKey> {
  let [row] = await findClientKeys(sql, [providerId])
  if (!row) {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true })
    const kid = randomUUID()
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }
    const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256' }
    row = await insertOrFindClientKey(sql, {
      providerId,
      kid,
      publicJwk,
      privateJwkSealed: sealing.seal(sealing.key(secret, PURPOSE), Buffer.from(JSON.stringify(privateJwk)), `${providerId}/${kid}`),
      now,
    })
  }
  const privateJwk = JSON.parse(sealing.open(sealing.key(secret, PURPOSE), row.privateJwkSealed, `${row.providerId}/${row.kid}`).toString('utf8')) as JWK
  return { kid: row.kid, key: (await importJWK(privateJwk, 'ES256')) as CryptoKey }
}

/** RFC 7517 JWKS of the public keys of every `private_key_jwt` provider, creating missing ones. */
export async function clientKeysJwks(sql: Queryable, secret: string, providers: readonly IdentityProvider[], now: Date): Promise<{ keys: JWK[] }> {
  const ids = providers.filter((p) => p.client_auth === 'private_key_jwt').map((p) => p.id)
  const have = new Set((await findClientKeys(sql, ids)).map((row) => row.providerId))
  for (const id of ids) if (!have.has(id)) await loadClientKey(sql, secret, id, now)
  return { keys: (await findClientKeys(sql, ids)).map((row) => row.publicJwk as JWK) }
}
