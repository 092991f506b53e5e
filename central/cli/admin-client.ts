import { CliError, ExitCode } from './exit-codes'

export interface AdminClientOptions {
  baseUrl: string
  adminToken: string | undefined
  fetch?: typeof fetch
}

/**
 * A thin client for central's admin API (`/admin/*`, Bearer ADMIN_TOKEN). It maps HTTP
 * outcomes onto the CLI's exit codes: connection failures → unreachable, 401/403 →
 * unauthorized, 404 → not found, anything else non-2xx → generic with the RFC 6749 §5.2
 * `error`/`error_description` of the body.
 */
export class AdminClient {
  readonly #baseUrl: string
  readonly #token: string | undefined
  readonly #fetch: typeof fetch

  constructor(options: AdminClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '')
    this.#token = options.adminToken
    this.#fetch = options.fetch ?? fetch
  }

  get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
    const search = new URLSearchParams()
    for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') search.set(key, String(value))
    const qs = search.size ? `?${search}` : ''
    return this.request<T>('GET', `${path}${qs}`)
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body)
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body)
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path)
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    if (!this.#token) throw new CliError('PORTCULLIS_ADMIN_TOKEN is not set', ExitCode.unauthorized)
    const url = `${this.#baseUrl}${path}`
    let response: Response
    try {
      response = await this.#fetch(url, {
        method,
        headers: {
          Authorization: `Bearer ${this.#token}`,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      })
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string; errors?: { code?: string }[] } }).cause
      const reason = cause?.code ?? cause?.errors?.[0]?.code ?? cause?.message ?? (error as Error).name
      throw new CliError(`cannot reach portcullis at ${this.#baseUrl} (${reason})`, ExitCode.unreachable)
    }
    const text = await response.text()
    const parsed = parseJson(text)
    if (response.ok) return parsed as T
    const description = describeError(parsed, response.status)
    // Only 401 is about the admin token; a 403 is the API refusing the action itself (e.g. a disabled user).
    if (response.status === 401) {
      throw new CliError(`unauthorized: ${description} (check PORTCULLIS_ADMIN_TOKEN)`, ExitCode.unauthorized)
    }
    if (response.status === 404) throw new CliError(`not found: ${description}`, ExitCode.notFound)
    if (response.status === 502 || response.status === 503 || response.status === 504) {
      throw new CliError(`portcullis is unavailable: ${description}`, ExitCode.unreachable)
    }
    throw new CliError(description, ExitCode.generic)
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

function describeError(body: unknown, status: number): string {
  if (body && typeof body === 'object') {
    const { error, error_description: description } = body as { error?: unknown; error_description?: unknown }
    if (typeof error === 'string') return typeof description === 'string' ? `${error}: ${description}` : error
  }
  return `HTTP ${status}`
}
