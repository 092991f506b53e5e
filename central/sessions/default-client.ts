/** The implicit client of browser and password sign-ins that name none (RFC 6749 §2.2 `client_id`). */
export const DEFAULT_CLIENT_ID = 'web'
