import { DurableObject } from 'cloudflare:workers';
import type { Env } from './config.js';
import * as A from '@automerge/automerge';

export class ReplicaObject extends DurableObject<Env> {
  async whoami(): Promise<string> {
    const d = A.from({ a: 1 });
    return `${this.ctx.id.name} ${JSON.stringify(A.toJS(d))}`;
  }
}
