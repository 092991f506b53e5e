import { describe, expect, it } from 'vitest'
import { decideSameOrigin, type RequestSite } from '../../../central/http/require-same-origin'

const ALLOWED = ['https://central.example.test', 'https://app.example.test']

describe('decideSameOrigin: the CSRF rule of every cookie-authenticated write', () => {
  const cases: [string, RequestSite, 'allowed' | 'refused'][] = [
    ['Sec-Fetch-Site: same-origin, no Origin', { secFetchSite: 'same-origin', origin: undefined }, 'allowed'],
    ['Sec-Fetch-Site: same-origin with an allowed Origin', { secFetchSite: 'same-origin', origin: 'https://central.example.test' }, 'allowed'],
    ['Sec-Fetch-Site: cross-site, even with an allowed Origin', { secFetchSite: 'cross-site', origin: 'https://app.example.test' }, 'refused'],
    ['Sec-Fetch-Site: cross-site without Origin', { secFetchSite: 'cross-site', origin: undefined }, 'refused'],
    ['Sec-Fetch-Site: same-site from an allowed origin', { secFetchSite: 'same-site', origin: 'https://app.example.test' }, 'allowed'],
    ['Sec-Fetch-Site: same-site from a sibling not in the list', { secFetchSite: 'same-site', origin: 'https://blog.example.test' }, 'refused'],
    ['Sec-Fetch-Site: same-site without Origin', { secFetchSite: 'same-site', origin: undefined }, 'refused'],
    ['Sec-Fetch-Site: none without Origin', { secFetchSite: 'none', origin: undefined }, 'refused'],
    ['no Sec-Fetch-Site, allowed Origin (older browser)', { secFetchSite: undefined, origin: 'https://central.example.test' }, 'allowed'],
    ['no Sec-Fetch-Site, foreign Origin', { secFetchSite: undefined, origin: 'https://evil.example' }, 'refused'],
    ['no Sec-Fetch-Site, Origin: null (sandboxed or privacy-stripped)', { secFetchSite: undefined, origin: 'null' }, 'refused'],
    ['neither header', { secFetchSite: undefined, origin: undefined }, 'refused'],
  ]
  for (const [name, site, expected] of cases) {
    it(`${expected === 'allowed' ? 'allows' : 'refuses'} ${name}`, () => {
      const decision = decideSameOrigin(site, ALLOWED)
      expect(decision.kind).toBe(expected)
      if (decision.kind === 'refused') expect(decision.reason).toMatch(/Origin|Sec-Fetch-Site/)
    })
  }
})
