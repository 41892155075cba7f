// Test support for the PostgreSQL store: a schema of its own per test (or per run), dropped after.
// The server is the machine's (WEFT_TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/test).
import pg from "pg";
import { randomBytes } from "node:crypto";

export const TEST_POSTGRES_URL = process.env.WEFT_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** a fresh schema name nobody else uses */
export function testSchema(prefix = "weft_t"): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
}

export async function dropSchema(schema: string, url = TEST_POSTGRES_URL): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}

/**
 * Engine options for the store a test run asks for: WEFT_TEST_STORE=postgres gives the shared
 * PostgreSQL store on a schema of its own (a stable node id, so a reopened engine takes its own
 * claims back at once, and an explicit secret key, as a shared store needs); otherwise nothing (the
 * embedded store). `cleanup` drops the schema.
 */
export function testStore(): { options: { postgres?: { url: string; schema: string; poolSize: number }; nodeId?: string; secretKey?: string }; cleanup(): Promise<void> } {
  if (process.env.WEFT_TEST_STORE !== "postgres") return { options: {}, cleanup: async () => undefined };
  const schema = testSchema("weft_e");
  return {
    options: { postgres: { url: TEST_POSTGRES_URL, schema, poolSize: 6 }, nodeId: `node-${schema}`, secretKey: randomBytes(32).toString("hex") },
    cleanup: () => dropSchema(schema),
  };
}
