// The Hocuspocus peer of `npm run bench:peers`: @hocuspocus/server with its defaults and no
// extension (documents in memory), on 127.0.0.1:$PORT. Started and stopped by the bench.
import { Server } from '@hocuspocus/server';

const port = Number(process.env.PORT);
const server = new Server({ port, address: '127.0.0.1', quiet: true });
await server.listen();
console.log(`hocuspocus listening on 127.0.0.1:${port}`);
