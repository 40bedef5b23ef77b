import { Hono } from 'hono';
import type { Env } from './objects/config.js';
export { ReplicaObject } from './objects/replica-object.js';

const app = new Hono<{ Bindings: Env }>();
app.get('/healthz', async (c) => {
  const stub = c.env.REPLICA.get(c.env.REPLICA.idFromName('replica:0:wnam'));
  return c.text(await stub.whoami());
});
export default app;
