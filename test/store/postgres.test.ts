// The storage conformance suite (src/testing/store-suite.ts), unchanged, against the PostgreSQL
// store on the machine's server: a schema of its own per test, dropped afterwards; reopen() is a
// new store (a new pool) on the same schema — what another node, or a node that restarted, sees.
import { PostgresStore } from "../../src/store/postgres/store.ts";
import type { Store } from "../../src/store/ports.ts";
import { runStoreSuite } from "../../src/testing/store-suite.ts";
import { TEST_POSTGRES_URL, dropSchema, testSchema } from "../../src/testing/postgres.ts";

const openOn = (schema: string): Promise<Store> => PostgresStore.open({ url: TEST_POSTGRES_URL, schema, poolSize: 4 });

runStoreSuite({
  name: "postgres",
  open: () => openOn(testSchema()),
  async reopen(prev) {
    const schema = (prev as PostgresStore).schema;
    await prev.close();
    return openOn(schema);
  },
  async close(store) {
    const schema = (store as PostgresStore).schema;
    await store.close();
    await dropSchema(schema);
  },
});
