import type { AppDeps } from '../../app-deps'
import { listAuditEvents } from '../../audit/store'
import { AuditPage, AUDIT_EVENT_TYPES, type AuditFilter } from '../../console/audit-page'
import { findUserByUsername } from '../../users/store'
import { createConsoleRouter, layoutAdmin, UUID } from './console-env'

const AUDIT_PAGE_SIZE = 50

/** `/console/audit`: the audit trail, filtered by user, session and type, keyset-paged. */
export function consoleAuditRoutes({ sql }: AppDeps) {
  const router = createConsoleRouter()

  router.get('/console/audit', async (c) => {
    const filter: AuditFilter = {
      user: (c.req.query('user') ?? '').trim().slice(0, 200),
      session: (c.req.query('session') ?? '').trim(),
      type: c.req.query('type') ?? '',
    }
    const before = c.req.query('before') ?? ''
    const render = (props: { events?: Awaited<ReturnType<typeof listAuditEvents>>; error?: string }) => {
      const events = props.events ?? []
      const page = events.slice(0, AUDIT_PAGE_SIZE)
      return c.html(
        <AuditPage
          admin={layoutAdmin(c)}
          filter={filter}
          events={page}
          olderBefore={events.length > AUDIT_PAGE_SIZE ? page[page.length - 1]?.id : undefined}
          isFirstPage={!before}
          error={props.error}
        />,
        props.error ? 400 : 200,
      )
    }
    if (filter.session && !UUID.test(filter.session)) return render({ error: 'A session id looks like 8-4-4-4-12 hexadecimal digits.' })
    if (filter.type && !(AUDIT_EVENT_TYPES as readonly string[]).includes(filter.type)) return render({ error: 'Unknown event type.' })
    if (before && !/^\d{1,19}$/.test(before)) return render({ error: 'Bad page marker.' })
    let userId: string | undefined
    if (filter.user) {
      userId = (await findUserByUsername(sql, filter.user))?.id
      if (!userId) return render({ error: `No user has the username “${filter.user}”.` })
    }
    // One more than a page tells whether an older page exists (keyset paging on the event id).
    const events = await listAuditEvents(sql, {
      userId,
      sessionId: filter.session || undefined,
      type: filter.type || undefined,
      beforeId: before || undefined,
      limit: AUDIT_PAGE_SIZE + 1,
    })
    return render({ events })
  })

  return router
}
