import { env, runInDurableObject } from 'cloudflare:test';
import { it } from 'vitest';
import { SqliteStorage } from '../../src/objects/sqlite-storage.js';
import { runStorageCases } from '../support/storage-suite.js';

let next = 0;

/** A fresh object (so a fresh SQLite database) per case: members of the test deployment's shards. */
function freshStub() {
  const shard = Math.floor(next / 3);
  const region = ['wnam', 'weur', 'apac'][next % 3]!;
  next++;
  return env.REPLICA.get(env.REPLICA.idFromName(`replica:${shard}:${region}`));
}

runStorageCases('SQLite (Durable Object)', (name, body) =>
  it(name, async () => {
    await runInDurableObject(freshStub(), (_instance, state) => body(new SqliteStorage(state.storage)));
  }),
);
