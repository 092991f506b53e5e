import { Command, CommanderError, InvalidArgumentError, Option } from 'commander'
import { AdminClient } from './admin-client'
import { findLocalStackToken } from './local-stack-token'
import { CliError, ExitCode, type ExitCodeValue } from './exit-codes'
import { formatCell, formatRecord, formatTable, type Column } from './format-table'

/** Where the CLI writes and reads; injectable so the program is testable without a terminal. */
export interface CliIo {
  stdout: (text: string) => void
  stderr: (text: string) => void
  readStdin: () => Promise<string>
  env: Record<string, string | undefined>
  /** Folder the CLI runs in, where `npm start`'s data folder is looked for; default process.cwd(). */
  cwd?: string
  /** Resolves when `audit --follow` should stop (SIGINT in the real CLI). */
  stopSignal?: AbortSignal
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
}

type Row = Record<string, unknown>

/**
 * `portcullis …`: the ops CLI over central's admin API. Returns the process exit code
 * (see exit-codes.ts) instead of exiting, so the shim owns `process.exit`.
 * @see https://github.com/tj/commander.js#readme
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCodeValue> {
  const program = buildProgram(io)
  try {
    await program.parseAsync(argv, { from: 'user' })
    return ExitCode.ok
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; every other commander error is a usage error.
      if (error.exitCode === 0) return ExitCode.ok
      return ExitCode.usage
    }
    if (error instanceof CliError) {
      io.stderr(`portcullis: ${error.message}\n`)
      return error.exitCode
    }
    io.stderr(`portcullis: ${(error as Error).message}\n`)
    return ExitCode.generic
  }
}

function buildProgram(io: CliIo): Command {
  const program = new Command('portcullis')
    .description('Operate portcullis through its admin API (PORTCULLIS_URL, PORTCULLIS_ADMIN_TOKEN).')
    .option('--json', 'print JSON instead of tables (for scripts)')
    .option('--url <url>', 'central base URL (default: $PORTCULLIS_URL or http://127.0.0.1:8787)')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      '\nWithout PORTCULLIS_ADMIN_TOKEN, against a central on this machine (127.0.0.1, localhost), the admin token is\n' +
        "read from .portcullis/local-secrets.json in the current folder ($PORTCULLIS_DATA_DIR instead of .portcullis when set),\n" +
        'the file `npm start` generates: run the CLI from the project folder while the local stack runs.\n' +
        '\nExit codes: 0 ok, 1 error, 2 usage, 3 unreachable, 4 unauthorized, 5 not found.',
    )

  const client = () => {
    const baseUrl = program.opts<{ url?: string }>().url ?? io.env.PORTCULLIS_URL ?? 'http://127.0.0.1:8787'
    const adminToken =
      io.env.PORTCULLIS_ADMIN_TOKEN || findLocalStackToken({ baseUrl, dataDir: io.env.PORTCULLIS_DATA_DIR, cwd: io.cwd ?? process.cwd() })?.adminToken
    return new AdminClient({ baseUrl, adminToken })
  }
  const json = () => program.opts<{ json?: boolean }>().json === true
  const print = (data: unknown, human: () => string) => io.stdout(`${json() ? JSON.stringify(data, null, 2) : human()}\n`)
  const user = (name: string) => `/admin/users/${encodeURIComponent(name)}`
  // Commander copies settings made before .command() is called, so configure the root first (above).

  const users = program.command('users').description('create, inspect, grant, enable, disable and unlock users')
  users
    .command('add <username>')
    .description('create a user; the password is read from stdin (never from argv, which `ps` shows)')
    .option('--audience <aud...>', 'granted audiences (RFC 8707 resources)', [])
    .option('--scope <scope...>', 'granted scopes', [])
    .option('--role <role...>', 'roles (portcullis:admin may use the console)', [])
    .action(async (username: string, options: { audience: string[]; scope: string[]; role: string[] }) => {
      // Subjects without a password are created by `token mint` (POST /admin/sessions) instead.
      const password = firstLine(await io.readStdin())
      if (!password) throw new CliError('pipe the password on stdin, e.g. `printf %s "$PW" | portcullis users add alice`', ExitCode.usage)
      const created = await client().post<Row>('/admin/users', {
        username,
        password,
        audiences: options.audience,
        scopes: options.scope,
        roles: options.role,
      })
      print(created, () => formatUser(created))
    })
  users
    .command('show <username>')
    .description('show a user: grants, enabled flag, dates, linked provider identities')
    .action(async (username: string) => {
      const found = await client().get<Row & { identities?: Row[] }>(user(username))
      print(found, () => `${formatUser(found)}\n\n${found.identities?.length ? formatTable(found.identities, identityColumns) : 'no linked identities'}`)
    })
  users
    .command('unlink <username>')
    .description('unlink a provider identity from a user; their sessions stay, and the next sign-in through it counts as a first one')
    .requiredOption('--issuer <url>', 'the identity\'s issuer (see `users show`)')
    .requiredOption('--subject <sub>', 'the identity\'s subject at that issuer')
    .action(async (username: string, options: { issuer: string; subject: string }) => {
      const query = new URLSearchParams({ issuer: options.issuer, subject: options.subject })
      await client().delete(`${user(username)}/identities?${query}`)
      const unlinked = { username, issuer: options.issuer, subject: options.subject }
      print({ unlinked }, () => `unlinked ${options.subject} at ${options.issuer} from ${username}`)
    })
  // Grants change by explicit additions and removals (PATCH add/remove); nothing here replaces a whole list.
  for (const [name, operation, description] of [
    ['grant', 'add', 'add audiences, scopes or roles to a user; what they already hold stays'],
    ['revoke-grant', 'remove', 'take audiences, scopes or roles from a user (live sessions lose them too); the rest stays'],
  ] as const) {
    users
      .command(`${name} <username>`)
      .description(description)
      .option('--audience <aud...>', 'audiences (RFC 8707 resources)', [])
      .option('--scope <scope...>', 'scopes', [])
      .option('--role <role...>', 'roles (portcullis:admin may use the console)', [])
      .action(async (username: string, options: { audience: string[]; scope: string[]; role: string[] }) => {
        const lists = { audiences: options.audience, scopes: options.scope, roles: options.role }
        if (!Object.values(lists).some((list) => list.length)) {
          throw new CliError(`name at least one --audience, --scope or --role to ${operation}`, ExitCode.usage)
        }
        const updated = await client().patch<Row>(user(username), { [operation]: lists })
        print(updated, () => formatUser(updated))
      })
  }
  users
    .command('unlock <username>')
    .description('clear the failed-login counts that keep a user from signing in (audited as user.unlocked)')
    .action(async (username: string) => {
      const body = await client().delete<{ cleared: number }>(`${user(username)}/login-failures`)
      print(body, () => (body.cleared ? `unlocked ${username}: cleared ${body.cleared} failed-login count(s)` : `${username} had no failed-login counts; nothing to clear`))
    })
  for (const [name, enabled] of [['disable', false], ['enable', true]] as const) {
    users
      .command(`${name} <username>`)
      .description(enabled ? 'enable a user again' : 'disable a user (revokes every session they hold)')
      .action(async (username: string) => {
        const updated = await client().patch<Row>(user(username), { enabled })
        print(updated, () => formatUser(updated))
      })
  }

  const sessions = program.command('sessions').description('list and revoke sessions')
  sessions
    .command('list <username>')
    .description("list a user's sessions (newest first)")
    .option('--all', 'include revoked and expired sessions')
    .action(async (username: string, options: { all?: boolean }) => {
      const body = await client().get<{ sessions: Row[] }>(`${user(username)}/sessions`)
      const rows = body.sessions.filter((s) => options.all || s.state === 'active')
      print({ sessions: rows }, () => (rows.length ? formatTable(rows, sessionColumns) : 'no sessions'))
    })
  sessions
    .command('revoke <sessionId>')
    .description('revoke one session (its refresh token dies now; the edge rejects its access tokens within the feed poll interval)')
    .action(async (sessionId: string) => {
      const body = await client().delete<{ revoked: boolean }>(`/admin/sessions/${encodeURIComponent(sessionId)}`)
      print(body, () => (body.revoked ? `revoked session ${sessionId}` : `session ${sessionId} had already ended; nothing to revoke`))
    })
  sessions
    .command('revoke-all <username>')
    .description('revoke every session of a user ("log out everywhere")')
    .action(async (username: string) => {
      const body = await client().delete<{ revoked: number }>(`${user(username)}/sessions`)
      print(body, () => `revoked ${body.revoked} session(s) of ${username}`)
    })

  const keys = program.command('keys').description('signing keys')
  keys
    .command('list')
    .description('list signing keys (next, active, retired) with their dates')
    .action(async () => {
      const body = await client().get<{ keys: Row[] }>('/admin/keys')
      print(body, () => formatTable(body.keys, keyColumns))
    })
  keys
    .command('rotate')
    .description('publish a new signing key; it signs once edges have had time to fetch it')
    .option('--immediate', 'after a leak: sign with the new key now and retire the current key now')
    .option('--revoke-previous', 'with --immediate: unpublish every earlier key now (their access tokens stop verifying)')
    .action(async (options: { immediate?: boolean; revokePrevious?: boolean }) => {
      if (options.revokePrevious && !options.immediate) throw new CliError('--revoke-previous needs --immediate', ExitCode.usage)
      const body = await client().post<Row>(
        '/admin/keys/rotate',
        options.immediate ? { immediate: true, ...(options.revokePrevious ? { revokePrevious: true } : {}) } : undefined,
      )
      print(body, () => formatRecord(Object.entries(body)))
    })

  program
    .command('audit')
    .description('the audit trail, newest first (with --follow: oldest first, then new events as they happen)')
    .option('--user <username>', 'only events about this user')
    .option('--session <id>', 'only events about this session')
    .option('--type <type>', 'only this event type (e.g. session.revoked)')
    .addOption(new Option('--limit <n>', 'how many events').default(50).argParser(positiveInt))
    .option('--follow', 'keep polling for new events until interrupted')
    .addOption(new Option('--interval <seconds>', 'poll interval for --follow').default(2).argParser(positiveInt))
    .action(async (options: { user?: string; session?: string; type?: string; limit: number; follow?: boolean; interval: number }) => {
      const api = client()
      const filters = { user: options.user, session: options.session, type: options.type }
      const fetchPage = async (before?: string) =>
        (await api.get<{ events: Row[] }>('/admin/audit', { ...filters, before, limit: options.limit })).events
      const first = await fetchPage()
      if (!options.follow) {
        print({ events: first }, () => (first.length ? formatTable(first, auditColumns) : 'no events'))
        return
      }
      // --follow: print oldest first like `tail -f`, one JSON object per line with --json.
      const emit = (events: Row[]) => {
        for (const event of events) io.stdout(`${json() ? JSON.stringify(event) : formatAuditLine(event)}\n`)
      }
      emit([...first].reverse())
      let lastId = first.length ? String(first[0]!.id) : '0'
      const sleep = io.sleep ?? defaultSleep
      while (!io.stopSignal?.aborted) {
        await sleep(options.interval * 1000, io.stopSignal)
        if (io.stopSignal?.aborted) break
        // Newest first from the API: page back until we reach what we already printed.
        const fresh: Row[] = []
        let before: string | undefined
        for (;;) {
          const page = await fetchPage(before)
          const newer = page.filter((e) => BigInt(String(e.id)) > BigInt(lastId))
          fresh.push(...newer)
          if (newer.length < page.length || page.length < options.limit) break
          before = String(page[page.length - 1]!.id)
        }
        if (fresh.length) {
          emit(fresh.reverse())
          lastId = String(fresh[fresh.length - 1]!.id)
        }
      }
    })

  const clients = program.command('clients').description('OAuth clients: machine clients (client credentials) and registered apps')
  const clientPath = (id: string) => `/admin/clients/${encodeURIComponent(id)}`
  clients
    .command('add <clientId>')
    .description('register a client; a secret (for a secret method) is printed this once')
    .addOption(
      new Option('--auth-method <method>', 'how it authenticates at the token endpoint')
        .choices(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'])
        .default('client_secret_basic'),
    )
    .option('--grant <type...>', 'allowed grant types (client_credentials, refresh_token, password)', ['client_credentials'])
    .option('--audience <aud...>', 'audiences its client-credentials tokens may carry', [])
    .option('--scope <scope...>', 'scopes its client-credentials tokens may carry', [])
    .option('--role <role...>', 'roles its client-credentials tokens carry', [])
    .option('--jwks-uri <url>', 'private_key_jwt: where the client publishes its public keys')
    .option('--jwks-stdin', 'private_key_jwt: read the public JWK Set (JSON) from stdin')
    .addOption(new Option('--ttl <seconds>', 'access-token lifetime (at most the service default)').argParser(positiveInt))
    .option('--require-dpop', 'tokens only with a DPoP proof (sender-constrained)')
    .action(async (clientId: string, options: {
      authMethod: string; grant: string[]; audience: string[]; scope: string[]; role: string[]
      jwksUri?: string; jwksStdin?: boolean; ttl?: number; requireDpop?: boolean
    }) => {
      let jwks: unknown
      if (options.jwksStdin) {
        try {
          jwks = JSON.parse(await io.readStdin())
        } catch {
          throw new CliError('--jwks-stdin: stdin is not a JSON JWK Set', ExitCode.usage)
        }
      }
      const created = await client().post<{ client: Row; client_secret: string | null }>('/admin/clients', {
        client_id: clientId,
        token_endpoint_auth_method: options.authMethod,
        grant_types: options.grant,
        audiences: options.audience,
        scopes: options.scope,
        roles: options.role,
        ...(options.jwksUri ? { jwks_uri: options.jwksUri } : {}),
        ...(jwks === undefined ? {} : { jwks }),
        ...(options.ttl === undefined ? {} : { access_token_ttl_seconds: options.ttl }),
        ...(options.requireDpop ? { require_dpop: true } : {}),
      })
      print(created, () => formatClientWithSecret(created))
    })
  clients
    .command('list')
    .description('list registered clients')
    .action(async () => {
      const body = await client().get<{ clients: Row[] }>('/admin/clients')
      print(body, () => (body.clients.length ? formatTable(body.clients, clientColumns) : 'no clients'))
    })
  clients
    .command('show <clientId>')
    .description('show a client: method, grants, keys, flags, dates')
    .action(async (clientId: string) => {
      const found = await client().get<Row>(clientPath(clientId))
      print(found, () => formatClient(found))
    })
  clients
    .command('rotate-secret <clientId>')
    .description('replace the secret (printed this once); the old one and the tokens issued with it stop working')
    .action(async (clientId: string) => {
      const rotated = await client().post<{ client: Row; client_secret: string | null }>(`${clientPath(clientId)}/rotate-secret`)
      print(rotated, () => formatClientWithSecret(rotated))
    })
  clients
    .command('disable <clientId>')
    .description('disable a client: it can no longer get tokens, and the edge refuses its tokens within the feed poll interval')
    .action(async (clientId: string) => {
      const updated = await client().post<Row>(`${clientPath(clientId)}/disable`)
      print(updated, () => formatClient(updated))
    })
  clients
    .command('enable <clientId>')
    .description('enable a client again (tokens revoked while it was disabled stay revoked)')
    .action(async (clientId: string) => {
      const updated = await client().patch<Row>(clientPath(clientId), { enabled: true })
      print(updated, () => formatClient(updated))
    })
  clients
    .command('delete <clientId>')
    .description('delete a client: it stops authenticating and its tokens are refused at the edge')
    .action(async (clientId: string) => {
      await client().delete(clientPath(clientId))
      print({ deleted: clientId }, () => `deleted client ${clientId}`)
    })

  const token = program.command('token').description('tokens for service teams')
  token
    .command('mint')
    .description('create a session for a subject authenticated elsewhere (POST /admin/sessions) and print its token pair')
    .requiredOption('--subject <username>', 'the user (subject) the session belongs to')
    .option('--audience <aud...>', 'audiences (default: the user’s grant)')
    .option('--scope <scope...>', 'scopes (default: the user’s grant)')
    .option('--role <role...>', 'roles (default: the user’s roles)')
    .option('--client-id <id>', 'client the session is bound to', 'service')
    .action(async (options: { subject: string; audience?: string[]; scope?: string[]; role?: string[]; clientId: string }) => {
      const body = await client().post<Row>('/admin/sessions', {
        subject: options.subject,
        ...(options.audience ? { audiences: options.audience } : {}),
        ...(options.scope ? { scopes: options.scope } : {}),
        ...(options.role ? { roles: options.role } : {}),
        client_id: options.clientId,
      })
      print(body, () => formatRecord(Object.entries(body)))
    })

  return program
}

const sessionColumns: Column<Row>[] = [
  { header: 'id', value: (s) => s.id },
  { header: 'state', value: (s) => s.state },
  { header: 'client', value: (s) => s.client_id },
  { header: 'provider', value: (s) => s.provider },
  { header: 'ip', value: (s) => s.ip },
  { header: 'created', value: (s) => s.created_at },
  { header: 'last used', value: (s) => s.last_used_at },
  { header: 'audiences', value: (s) => s.audiences },
  { header: 'user agent', value: (s) => truncate(s.user_agent, 48) },
]

const identityColumns: Column<Row>[] = [
  { header: 'provider', value: (i) => i.provider },
  { header: 'issuer', value: (i) => i.issuer },
  { header: 'subject', value: (i) => i.subject },
  { header: 'email', value: (i) => i.email },
  { header: 'linked', value: (i) => i.linked_at },
  { header: 'last used', value: (i) => i.last_used_at },
]

const keyColumns: Column<Row>[] = [
  { header: 'kid', value: (k) => k.kid },
  { header: 'state', value: (k) => k.state },
  { header: 'alg', value: (k) => k.alg },
  { header: 'created', value: (k) => k.created_at },
  { header: 'activates', value: (k) => k.activates_at },
  { header: 'retired', value: (k) => k.retired_at },
  { header: 'unpublish', value: (k) => k.unpublish_at },
]

const auditColumns: Column<Row>[] = [
  { header: 'id', value: (e) => e.id },
  { header: 'at', value: (e) => e.at },
  { header: 'type', value: (e) => e.type },
  { header: 'actor', value: (e) => e.actor },
  { header: 'user', value: (e) => e.username ?? e.user_id },
  { header: 'session', value: (e) => e.session_id },
  { header: 'reason', value: (e) => e.reason },
]

const clientColumns: Column<Row>[] = [
  { header: 'client_id', value: (c) => c.client_id },
  { header: 'enabled', value: (c) => c.enabled },
  { header: 'method', value: (c) => c.token_endpoint_auth_method },
  { header: 'grants', value: (c) => c.grant_types },
  { header: 'audiences', value: (c) => c.audiences },
  { header: 'scopes', value: (c) => c.scopes },
  { header: 'dpop', value: (c) => c.require_dpop },
]

function formatClient(client: Row): string {
  return formatRecord([
    ['client_id', client.client_id],
    ['type', client.client_type],
    ['auth method', client.token_endpoint_auth_method],
    ['enabled', client.enabled],
    ['grant types', client.grant_types],
    ['audiences', client.audiences],
    ['scopes', client.scopes],
    ['roles', client.roles],
    ['require dpop', client.require_dpop],
    ['token ttl', client.access_token_ttl_seconds],
    ['keys', client.jwks_uri ?? (client.jwks ? 'inline' : null)],
    ['secret rotated', client.secret_rotated_at],
    ['not before', client.not_before],
    ['created', client.created_at],
    ['updated', client.updated_at],
  ])
}

function formatClientWithSecret(body: { client: Row; client_secret: string | null }): string {
  const text = formatClient(body.client)
  return body.client_secret === null ? text : `${text}\n\nclient_secret: ${body.client_secret}\n(shown once: store it now)`
}

function formatAuditLine(event: Row): string {
  return auditColumns.map((c) => formatCell(c.value(event))).join('  ')
}

function formatUser(user: Row): string {
  return formatRecord([
    ['username', user.username],
    ['id', user.id],
    ['enabled', user.enabled],
    ['audiences', user.audiences],
    ['scopes', user.scopes],
    ['roles', user.roles],
    ['created', user.created_at],
    ['updated', user.updated_at],
    ...grantDiffLines('added', user.added),
    ...grantDiffLines('removed', user.removed),
    ...(user.sessions_revoked === undefined ? [] : [['sessions revoked', user.sessions_revoked] as [string, unknown]]),
  ])
}

/** `added scopes  orders:write` lines for the lists of a PATCH answer's added/removed that hold something. */
function grantDiffLines(label: string, diff: unknown): [string, unknown][] {
  if (!diff || typeof diff !== 'object') return []
  return Object.entries(diff as Record<string, unknown>)
    .filter(([, values]) => Array.isArray(values) && values.length > 0)
    .map(([part, values]) => [`${label} ${part}`, values])
}

function truncate(value: unknown, max: number): unknown {
  return typeof value === 'string' && value.length > max ? `${value.slice(0, max - 1)}…` : value
}

function firstLine(text: string): string {
  return text.split(/\r?\n/)[0] ?? ''
}

function positiveInt(value: string): number {
  const n = Number(value)
  // Commander prints this with the option's name and the help hint, and exits 2.
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('not a positive integer')
  return n
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal?.addEventListener('abort', () => {
      clearTimeout(timer)
      resolve()
    }, { once: true })
  })
}
