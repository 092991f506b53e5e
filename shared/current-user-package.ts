// `portcullis/current-user`: what an origin API needs to know its caller, without the frameworks.
export { currentUserFromClaims, currentUserFromHeaders, type CurrentUser, type HeaderSource } from './current-user'
export { createCurrentUserResolver, type CurrentUserMiddlewareOptions, type CurrentUserResolution } from './current-user-middleware'
export { InvalidToken } from './errors'
export { createCurrentUserVerifier, type TokenVerifierOptions } from './verify-current-user'
