import { expect, it } from 'vitest'
import { createTestDatabase } from '../database'

// Deliberately failing, after touching the run's PostgreSQL as a real test file would.
it('fails on purpose', async () => {
  const database = await createTestDatabase({ migrate: false })
  await database.drop()
  expect(1).toBe(2)
})
