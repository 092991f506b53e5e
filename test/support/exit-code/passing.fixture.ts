import { expect, it } from 'vitest'
import { createTestDatabase } from '../database'

it('passes', async () => {
  const database = await createTestDatabase({ migrate: false })
  await database.drop()
  expect(1).toBe(1)
})
