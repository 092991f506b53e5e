import { Hono } from 'hono'
import type { Sql } from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { handleError } from '../../../central/http/handle-error'
import { createTestDatabase, type TestDatabase } from '../../support/database'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase({ migrate: false })
  await db.sql`create table conflict_demo (id int primary key, n int not null)`
  await db.sql`insert into conflict_demo values (1, 0), (2, 0)`
})
afterAll(() => db.drop())

/** A promise plus its resolve, to hand control between two transactions step by step. */
function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/** Two transactions lock rows 1 and 2 in opposite orders: PostgreSQL aborts one with 40P01. */
async function realDeadlock(sql: Sql): Promise<Error> {
  const aLocked = signal()
  const bLocked = signal()
  const a = sql.begin(async (tx) => {
    await tx`update conflict_demo set n = n + 1 where id = 1`
    aLocked.resolve()
    await bLocked.promise
    await tx`update conflict_demo set n = n + 1 where id = 2`
  })
  const b = sql.begin(async (tx) => {
    await aLocked.promise
    await tx`update conflict_demo set n = n + 1 where id = 2`
    bLocked.resolve()
    await tx`update conflict_demo set n = n + 1 where id = 1`
  })
  const results = await Promise.allSettled([a, b])
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (!failed) throw new Error('expected one transaction to deadlock')
  return failed.reason as Error
}

/** A REPEATABLE READ transaction updates a row another one changed after its snapshot: 40001. */
async function realSerializationFailure(sql: Sql): Promise<Error> {
  try {
    await sql.begin('isolation level repeatable read', async (tx) => {
      await tx`select n from conflict_demo where id = 1`
      await sql`update conflict_demo set n = n + 1 where id = 1`
      await tx`update conflict_demo set n = n + 1 where id = 1`
    })
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a serialization failure')
}

function appThrowing(error: Error) {
  const app = new Hono()
  app.onError(handleError)
  app.get('/', () => {
    throw error
  })
  return app
}

describe('a transaction PostgreSQL aborts to settle a race', () => {
  it.each([
    ['a deadlock', '40P01', realDeadlock],
    ['a serialization failure', '40001', realSerializationFailure],
  ])('answers %s (%s) with a retryable 503 temporarily_unavailable and Retry-After, not a 500', async (_, code, provoke) => {
    const error = await provoke(db.sql)
    expect((error as { code?: string }).code).toBe(code)
    const response = await appThrowing(error).request('/')
    expect(response.status).toBe(503)
    expect(response.headers.get('Retry-After')).toBe('1')
    expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' })
  })
})
