import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'core',
          environment: 'node',
          include: ['test/core/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml', environment: 'test' } })],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          testTimeout: 60_000,
          // Files share the Durable Objects (and the isolate's engines): tests that inject
          // faults into a member or break the wasm module must not overlap with others.
          fileParallelism: false,
          // Members log elections from their timers, which outlive the test file that woke
          // them: an intercepted log still on its way to the runner when the file's RPC closes
          // failed a whole run ("Closing rpc while onUserConsoleLog was pending"). Not
          // intercepted, logs go straight to workerd's output.
          disableConsoleIntercept: true,
        },
      },
      {
        test: {
          name: 'client',
          environment: 'node',
          include: ['test/client/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          // Real headless Chromium (Debian's, through playwright-core) against the real
          // `wrangler dev`: the demo page, the dashboard and the SDK offline and across regions.
          name: 'browser',
          environment: 'node',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/browser/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
