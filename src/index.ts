/** The Worker entry: the HTTP edge and the Durable Object classes it routes to. */
import { app } from './api/app.js';

export { ReplicaObject } from './objects/replica-object.js';
export default app;
