/** The Worker entry: the Hono app and the Durable Object classes. */
export { ReplicaObject } from './objects/replica-object.js';
import { Hono } from 'hono';
import type { Env } from './objects/config.js';

const app = new Hono<{ Bindings: Env }>();
app.get('/healthz', (c) => c.json({ ok: true }));
export default app;
