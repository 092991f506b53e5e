/** Media types a browser asks for when it loads a page. */
const PAGE_TYPES = new Set(['text/html', 'application/xhtml+xml'])

/**
 * Whether a request is a browser's top-level page load, the only kind a `browser` route may send to
 * sign-in: a script (fetch/XHR), an API client or a form post keeps the RFC 6750 answer, since a
 * login page is useless to it and a redirect would hide the 401 it must handle.
 *
 * GET or HEAD, no `Accept` preferring JSON, and either Fetch Metadata saying so
 * (`Sec-Fetch-Mode: navigate`, with `Sec-Fetch-Dest: document` when sent) or, from a client that
 * sends no `Sec-Fetch-*` header at all (older browsers), an `Accept` whose highest q-value is HTML's.
 * @see https://www.w3.org/TR/fetch-metadata/
 */
export function isBrowserNavigation(method: string, headers: Headers): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false
  const accept = readAccept(headers.get('Accept'))
  if (accept.jsonQuality > 0 && accept.jsonQuality >= accept.pageQuality) return false
  const mode = headers.get('Sec-Fetch-Mode')
  if (mode !== null) {
    const destination = headers.get('Sec-Fetch-Dest')
    // An iframe, image or worker load is not the page the person asked for.
    return mode.trim().toLowerCase() === 'navigate' && (destination === null || destination.trim().toLowerCase() === 'document')
  }
  // Partial Fetch Metadata is not a browser navigation we can recognize.
  if (headers.has('Sec-Fetch-Dest') || headers.has('Sec-Fetch-Site') || headers.has('Sec-Fetch-User')) return false
  // Browsers list image types at q=1 beside HTML, so HTML needs the top q-value, not a unique one.
  return accept.pageQuality > 0 && accept.pageQuality >= accept.otherQuality
}

interface AcceptQualities {
  /** Highest q of `text/html` or `application/xhtml+xml`. */
  pageQuality: number
  /** Highest q of `application/json` or a `+json` type. */
  jsonQuality: number
  /** Highest q of any other concrete type (wildcards only say "anything else"). */
  otherQuality: number
}

/** RFC 9110 §12.5.1 media ranges with their q-values; a malformed q counts as 0 (not wanted). */
function readAccept(header: string | null): AcceptQualities {
  const qualities: AcceptQualities = { pageQuality: 0, jsonQuality: 0, otherQuality: 0 }
  if (!header) return qualities
  for (const range of header.split(',')) {
    const [type = '', ...parameters] = range.split(';').map((part) => part.trim().toLowerCase())
    if (!type || type.includes('*')) continue
    let quality = 1
    for (const parameter of parameters) {
      if (!parameter.startsWith('q=')) continue
      const value = parameter.slice(2)
      quality = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value) ? Number(value) : 0
    }
    if (PAGE_TYPES.has(type)) qualities.pageQuality = Math.max(qualities.pageQuality, quality)
    else if (type === 'application/json' || type.endsWith('+json')) qualities.jsonQuality = Math.max(qualities.jsonQuality, quality)
    else qualities.otherQuality = Math.max(qualities.otherQuality, quality)
  }
  return qualities
}
