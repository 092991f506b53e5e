import { Hono } from 'hono'

// Placeholder until the edge gateway lands: answers 404 for everything.
const app = new Hono()
app.all('*', (c) => c.json({ error: 'not_found' }, 404))
export default app
