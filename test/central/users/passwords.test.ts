import { parseOptions } from '@node-rs/argon2'
import { describe, expect, it } from 'vitest'
import { dummyPasswordHash, hashPassword, verifyPassword } from '../../../central/users/passwords'

describe('passwords', () => {
  it('hashes with argon2id at OWASP parameters (m=19456 KiB, t=2, p=1) and a fresh salt each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same password'), hashPassword('same password')])
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    expect(a).not.toBe(b)
  })

  it('verifies the right password and rejects a wrong one', async () => {
    const hash = await hashPassword('correct horse battery')
    expect(await verifyPassword(hash, 'correct horse battery')).toBe(true)
    expect(await verifyPassword(hash, 'correct horse batterY')).toBe(false)
  })

  it('treats a malformed stored hash as a mismatch instead of throwing', async () => {
    expect(await verifyPassword('not-a-phc-string', 'anything')).toBe(false)
  })

  it('keeps the dummy hash for unknown users at the same cost as real hashes', async () => {
    const dummy = await dummyPasswordHash()
    const real = await hashPassword('x')
    expect(parseOptions(dummy)).toEqual(parseOptions(real))
    expect(await dummyPasswordHash()).toBe(dummy)
  })
})
