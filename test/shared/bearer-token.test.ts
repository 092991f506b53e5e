import { describe, expect, it } from 'vitest'
import { readBearerToken } from '../../shared/bearer-token'

describe('readBearerToken', () => {
  it.each([
    ['Bearer abc.def-ghi_jkl', 'abc.def-ghi_jkl'],
    ['bearer abc', 'abc'],
    ['BEARER   abc', 'abc'],
    ['  Bearer abc  ', 'abc'],
    ['Bearer a+b/c==', 'a+b/c=='],
    ['Bearer a~b', 'a~b'],
  ])('reads %j as %j', (header, token) => {
    expect(readBearerToken(header)).toBe(token)
  })

  it.each([
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['no token', 'Bearer'],
    ['no space', 'Bearerabc'],
    ['two credentials joined by a comma', 'Bearer abc, Bearer def'],
    ['a space inside the token', 'Bearer abc def'],
    ['padding in the middle', 'Bearer ab=c'],
    ['a character outside b64token', 'Bearer abc"'],
  ])('refuses %s', (_label, header) => {
    expect(readBearerToken(header)).toBeUndefined()
  })
})
