import type { AppDeps } from '../../app-deps'
import { formatInstant } from '../../console/format'
import { KeysPage } from '../../console/keys-page'
import { listSigningKeys, rotateSigningKey } from '../../tokens/signing-keys'
import { confirmFirst } from './confirm-first'
import { actorOf, createConsoleRouter, layoutAdmin } from './console-env'

/** `/console/keys`: the signing keys with their state, and rotation (scheduled or immediate). */
export function consoleKeyRoutes({ sql, config, clock }: AppDeps) {
  const router = createConsoleRouter()

  router.get('/console/keys', async (c) => {
    const keys = await listSigningKeys(sql, clock())
    const done = c.req.query('done')
    // Told from the keys themselves, never from the URL: a crafted link cannot put words in the notice.
    const newest = keys.reduce<(typeof keys)[number] | undefined>((latest, key) => (!latest || key.createdAt > latest.createdAt ? key : latest), undefined)
    const notice = done === 'rotated' && newest ? `New key ${newest.kid} published; it signs from ${formatInstant(newest.activatesAt)}.` : undefined
    const error = done === 'pending' ? 'A new key is already scheduled; rotate again once it has started signing.' : undefined
    return c.html(<KeysPage admin={layoutAdmin(c)} keys={keys} publishAheadSeconds={config.KEY_PUBLISH_AHEAD_SECONDS} notice={notice} error={error} />)
  })

  router.post('/console/keys/rotate', async (c) => {
    const form = await c.req.parseBody()
    const immediate = form.immediate === '1'
    const revokePrevious = immediate && form.revokePrevious === '1'
    // A scheduled rotation changes nothing anyone notices; an immediate one is confirmed first.
    if (immediate) {
      const confirm = await confirmFirst(c, {
        title: 'Rotate the signing key now?',
        text: revokePrevious
          ? 'A new key signs from now and every earlier key is withdrawn from the JWKS now: every access token signed before fails at once, and every client must refresh.'
          : 'A new key signs from now, without the usual publish-ahead time, and the current key is retired now; tokens it signed keep verifying until they expire.',
        confirmLabel: revokePrevious ? 'Rotate now and withdraw earlier keys' : 'Rotate now',
        cancelHref: '/console/keys',
        section: 'keys',
      })
      if (confirm) return confirm
    }
    // A key already waiting to sign is a Conflict: handleConsoleError answers it with done=pending.
    await rotateSigningKey(sql, config, clock(), actorOf(c), { immediate, revokePrevious })
    return c.redirect('/console/keys?done=rotated', 303)
  })

  return router
}
