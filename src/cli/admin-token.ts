// `weft admin-token --data DIR`: issue a new admin token straight from a data directory — the way
// back in when the admin token was lost (or never seen: a first start killed before it printed).
// Prints the token once; only its hash is stored. --revoke-others revokes every other admin token.
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { openEmbeddedStore } from "../main.ts";
import { Tenancy } from "../tenancy/tenancy.ts";
import { SystemClock } from "../core/clock.ts";

export const ADMIN_TOKEN_HELP = `Usage: weft admin-token [--data DIR] [--revoke-others]

Issues a new admin token from the data directory (the server may be running or not) and prints it
once; only its hash is stored.

Options:
  --data DIR        data directory (default ./weft-data, env WEFT_DATA)
  --revoke-others   revoke every other admin token
  -h, --help        show this help`;

export async function adminTokenCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { data: { type: "string" }, "revoke-others": { type: "boolean" }, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }));
  } catch (e) {
    process.stderr.write(`weft admin-token: ${(e as Error).message}\nTry weft admin-token --help.\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(ADMIN_TOKEN_HELP + "\n");
    return 0;
  }
  const dataDir = values.data ?? process.env.WEFT_DATA ?? "./weft-data";
  if (!existsSync(join(dataDir, "weft.db"))) {
    process.stderr.write(`weft admin-token: ${dataDir} is not a weft data directory (no weft.db); start weft serve there first\n`);
    return 2;
  }
  const store = openEmbeddedStore(dataDir);
  try {
    const tenancy = new Tenancy(store, new SystemClock(), () => undefined);
    await tenancy.issueAdminToken((token) => process.stdout.write(`${token}\n`), values["revoke-others"] === true);
  } finally {
    await store.close();
  }
  return 0;
}
