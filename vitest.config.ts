import { defineConfig } from "vitest/config";

// Three tiers. `unit` is pure logic, `integration` runs real parts in-process (SQLite files,
// fastify, the carrier simulator, the twilio SDK), `e2e` starts Synapse and the built bridge as a
// process. `npm test` runs them all; `npm run test:<tier>` runs one.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          environment: "node",
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/e2e/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
