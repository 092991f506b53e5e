import { text } from 'node:stream/consumers'
import { runCli } from './run-cli'

/** Entry of the `portcullis` bin: wires the real process into runCli and exits with its code. */
const stop = new AbortController()
process.once('SIGINT', () => stop.abort())
process.once('SIGTERM', () => stop.abort())

const code = await runCli(process.argv.slice(2), {
  stdout: (chunk) => process.stdout.write(chunk),
  stderr: (chunk) => process.stderr.write(chunk),
  readStdin: () => (process.stdin.isTTY ? Promise.resolve('') : text(process.stdin)),
  env: process.env,
  stopSignal: stop.signal,
})
process.exitCode = code
