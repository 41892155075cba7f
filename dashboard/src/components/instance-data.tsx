// The instance's own data on the detail page: its SQL database (tables, read-only query box) and its
// filesystem (commits, tree at any commit, file view, the `git clone` command).
import { useState } from "preact/hooks";
import { ApiError, type Api, type Commit, type SqlResult, type TreeEntry } from "../api.ts";
import { useLoad } from "../hooks.ts";
import { time } from "../format.ts";
import { CopyButton, ErrorBox, Loading } from "./ui.tsx";

const TABLES_SQL =
  "SELECT name, type FROM sqlite_master WHERE type IN ('table','view') AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
/** rendering more rows than this makes the page crawl; the count says what was left out */
const MAX_ROWS = 1000;

export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function base64Length(b64: string): number {
  const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return Math.floor((b64.length * 3) / 4) - pad;
}

function Cell({ v }: { v: unknown }) {
  if (v === null || v === undefined) return <td class="muted">NULL</td>;
  if (typeof v === "object" && typeof (v as { base64?: unknown }).base64 === "string") {
    return <td class="muted">blob ({base64Length((v as { base64: string }).base64)} bytes)</td>;
  }
  const text = typeof v === "object" ? JSON.stringify(v) : String(v);
  return (
    <td class={typeof v === "number" ? "num" : "cell-text"} title={text.length > 80 ? text : undefined}>
      {text}
    </td>
  );
}

export function SqlPanel({ api, base, refreshKey }: { api: Api; base: string; refreshKey: string }) {
  const tables = useLoad((signal) => api.request("POST", base + "/sql", { query: TABLES_SQL }, signal).then((r) => r.json() as Promise<SqlResult>), [base, refreshKey]);
  const [query, setQuery] = useState("");
  const [run, setRun] = useState<{ busy: boolean; result?: SqlResult; error?: unknown; ms?: number }>({ busy: false });

  const execute = async (q: string) => {
    if (!q.trim()) return;
    setRun((r) => ({ ...r, busy: true }));
    const t0 = performance.now();
    try {
      const result = await api.send<SqlResult>("POST", base + "/sql", { query: q });
      setRun({ busy: false, result, ms: performance.now() - t0 });
    } catch (error) {
      setRun({ busy: false, error });
    }
  };
  const open = (name: string) => {
    const q = `SELECT * FROM "${name.replaceAll('"', '""')}" LIMIT 100`;
    setQuery(q);
    void execute(q);
  };
  const list = tables.data?.rows ?? [];
  const r = run.result;

  return (
    <div class="data-layout">
      <section class="card side">
        <h2 id="sql-tables-h">Tables</h2>
        {tables.error ? <ErrorBox error={tables.error} title="Could not list the tables" /> : null}
        {!tables.data && !tables.error ? <Loading what="tables" /> : null}
        {tables.data && list.length === 0 ? <p class="muted">no tables: this instance has no SQL data yet</p> : null}
        {list.length > 0 ? (
          <ul class="pick-list">
            {list.map(([name, type]) => (
              <li key={String(name)}>
                <button type="button" class="link-btn" onClick={() => open(String(name))}>{String(name)}</button>
                {type === "view" ? <span class="muted small"> view</span> : null}
              </li>
            ))}
          </ul>
        ) : null}
      </section>
      <section class="card main-col">
        <h2 id="sql-query-h">Query</h2>
        <form
          class="stack"
          onSubmit={(e) => {
            e.preventDefault();
            void execute(query);
          }}
        >
          <label for="sql-query">SQL query</label>
          <textarea
            id="sql-query" spellcheck={false} rows={4} value={query} placeholder="SELECT * FROM sqlite_master"
            aria-describedby="sql-hint"
            onInput={(e) => setQuery((e.target as HTMLTextAreaElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                void execute(query);
              }
            }}
          />
          <div class="row">
            <button type="submit" class="btn primary" disabled={run.busy || !query.trim()}>Run query</button>
            <span id="sql-hint" class="muted small">Read-only: writes are refused. Ctrl+Enter runs.</span>
          </div>
        </form>
        <ErrorBox error={run.error} title="Query failed" />
        {r ? (
          <div class="stack sql-result">
            <p class="muted small" aria-live="polite">
              {r.rows.length} {r.rows.length === 1 ? "row" : "rows"} · {r.rowsRead} read · {r.rowsWritten} written
              {run.ms !== undefined ? ` · ${Math.round(run.ms)} ms` : ""}
              {r.rows.length > MAX_ROWS ? ` · showing the first ${MAX_ROWS}` : ""}
            </p>
            {r.columns.length > 0 ? (
              <div class="table-wrap sql-table">
                <table>
                  <thead>
                    <tr>{r.columns.map((c, i) => <th key={i} scope="col">{c}</th>)}</tr>
                  </thead>
                  <tbody>
                    {r.rows.slice(0, MAX_ROWS).map((row, i) => (
                      <tr key={i}>{row.map((v, j) => <Cell key={j} v={v} />)}</tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ) : null}
          </div>
        ) : null}
      </section>
    </div>
  );
}

// ---- files -------------------------------------------------------------------------------------------

const notFound = (e: unknown) => e instanceof ApiError && e.code === "not_found";
const firstLine = (m: string) => m.split("\n", 1)[0]!;

function decode(b: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b);
  } catch {
    return null;
  }
}

function FileView({ api, base, path, at, refreshKey }: { api: Api; base: string; path: string; at: string; refreshKey: string }) {
  const f = useLoad(() => api.bytes(base + "/file", { path, at }), [base, path, at, at ? "" : refreshKey]);
  return (
    <section class="file-view">
      <h3 id="file-h" class="mono">{path}</h3>
      {f.error ? notFound(f.error) ? <p class="muted">not in this commit</p> : <ErrorBox error={f.error} title="Could not read the file" /> : null}
      {!f.data && !f.error ? <Loading what="the file" /> : null}
      {f.data && !f.error ? (
        (() => {
          const text = decode(f.data);
          return text === null ? (
            <pre class="code-block muted" aria-label="File content" tabIndex={0}>binary, {f.data.length} bytes</pre>
          ) : (
            <pre class="code-block file-content" aria-label="File content" tabIndex={0}>{text}</pre>
          );
        })()
      ) : null}
    </section>
  );
}

function Tree({ api, base, at, dir, file, refreshKey, onDir, onFile }: { api: Api; base: string; at: string; dir: string; file: string | null; refreshKey: string; onDir: (d: string) => void; onFile: (f: string) => void }) {
  // at the newest state the tree moves with the instance; an old commit never changes
  const t = useLoad(() => api.get<{ entries: TreeEntry[] }>(base + "/tree", { path: dir, at }), [base, at, dir, at ? "" : refreshKey]);
  const parts = dir ? dir.split("/") : [];
  const entries = [...(t.data?.entries ?? [])].sort((a, b) => (a.type === b.type ? a.name.localeCompare(b.name) : a.type === "directory" ? -1 : 1));
  const join = (name: string) => (dir ? `${dir}/${name}` : name);
  return (
    <section>
      <h3 id="tree-h" class="sr-only">Directory</h3>
      <nav aria-label="Path" class="path-crumbs">
        <button type="button" class="link-btn" onClick={() => onDir("")} aria-current={dir === "" ? "location" : undefined}>/</button>
        {parts.map((p, i) => (
          <span key={i}>
            <span aria-hidden="true" class="muted"> / </span>
            <button type="button" class="link-btn" onClick={() => onDir(parts.slice(0, i + 1).join("/"))} aria-current={i === parts.length - 1 ? "location" : undefined}>{p}</button>
          </span>
        ))}
      </nav>
      {t.error ? (
        notFound(t.error) ? (
          <p class="muted">{dir ? "no such directory in this commit" : "no files"}</p>
        ) : (
          <ErrorBox error={t.error} title="Could not list the directory" />
        )
      ) : null}
      {!t.data && !t.error ? <Loading what="files" /> : null}
      {t.data && !t.error && entries.length === 0 ? <p class="muted">{dir ? "empty directory" : "no files"}</p> : null}
      {entries.length > 0 && !t.error ? (
        <ul class="tree" aria-label="Files">
          {dir ? (
            <li>
              <button type="button" class="link-btn" onClick={() => onDir(parts.slice(0, -1).join("/"))}>
                <span aria-hidden="true">↰ </span>..<span class="sr-only"> (parent directory)</span>
              </button>
            </li>
          ) : null}
          {entries.map((e) => (
            <li key={e.name}>
              {e.type === "directory" ? (
                <button type="button" class="link-btn" onClick={() => onDir(join(e.name))}>
                  <span aria-hidden="true">▸ </span>{e.name}/
                </button>
              ) : (
                <button type="button" class="link-btn" aria-current={file === join(e.name) ? "true" : undefined} onClick={() => onFile(join(e.name))}>
                  <span aria-hidden="true">· </span>{e.name}
                </button>
              )}
              {e.type === "file" ? <span class="muted small"> {bytesText(e.size)}</span> : null}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}

export function FilesPanel({ api, base, refreshKey }: { api: Api; base: string; refreshKey: string }) {
  const commits = useLoad(() => api.get<{ commits: Commit[] }>(base + "/commits", { limit: 100 }), [base, refreshKey]);
  const [at, setAt] = useState(""); // "" = the newest state
  const [dir, setDir] = useState("");
  const [file, setFile] = useState<string | null>(null);
  const list = commits.data?.commits ?? [];
  // never the real token on the page: the shell fills $WEFT_TOKEN in
  const clone = `git clone ${location.protocol}//weft:$WEFT_TOKEN@${location.host}${base}/repo.git`;
  const current = list.find((c) => c.oid === at);

  return (
    <div class="stack">
      <section class="card">
        <h2 id="clone-h">Clone</h2>
        <div class="clone-row">
          <code class="clone-cmd" data-copy={clone}>{clone}</code>
          <CopyButton text={clone} label="Copy the git clone command" />
        </div>
        <p class="muted small">The password is an API token (this tenant's or the admin's): set <code>WEFT_TOKEN</code> first. The repository is read-only.</p>
      </section>
      <div class="data-layout">
        <section class="card side">
          <h2 id="commits-h">Commits</h2>
          {commits.error ? <ErrorBox error={commits.error} title="Could not list the commits" /> : null}
          {!commits.data && !commits.error ? <Loading what="commits" /> : null}
          {commits.data && list.length === 0 ? <p class="muted">no commits: no step has written a file yet</p> : null}
          {list.length > 0 ? (
            <ol class="commits">
              <li>
                <button type="button" class="commit" aria-pressed={at === ""} onClick={() => setAt("")}>
                  <span class="commit-msg">Newest</span>
                  <span class="muted small">the current state</span>
                </button>
              </li>
              {list.map((c) => (
                <li key={c.oid}>
                  <button type="button" class="commit" aria-pressed={at === c.oid} onClick={() => setAt(c.oid)}>
                    <span class="commit-msg">{firstLine(c.message)}</span>
                    <span class="muted small">
                      <code>{c.oid.slice(0, 7)}</code> · {time(c.at)}
                    </span>
                  </button>
                </li>
              ))}
            </ol>
          ) : null}
        </section>
        <section class="card main-col">
          <h2 id="files-h">
            Files <span class="muted small">{current ? <>at <code>{current.oid.slice(0, 7)}</code> ({firstLine(current.message)})</> : "newest"}</span>
          </h2>
          <Tree
            api={api} base={base} at={at} dir={dir} file={file} refreshKey={refreshKey}
            onDir={(d) => setDir(d)} onFile={(f) => setFile(f)}
          />
          {file ? <FileView api={api} base={base} path={file} at={at} refreshKey={refreshKey} /> : null}
        </section>
      </div>
    </div>
  );
}
