// test/engine/storage-sql.test.ts again, on the shared PostgreSQL store (cluster mode): the same semantics on
// both store adapters. Each engine in it gets a schema of its own (src/testing/postgres.ts testStore).
process.env.WEFT_TEST_STORE = "postgres";
await import("../engine/storage-sql.test.ts");
