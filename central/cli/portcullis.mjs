#!/usr/bin/env node
// `portcullis` bin shim: registers tsx so the TypeScript CLI runs without a build step,
// then loads it. Exit codes are documented in README ("Operating portcullis").
import { register } from 'tsx/esm/api'

register()
await import('./main.ts')
