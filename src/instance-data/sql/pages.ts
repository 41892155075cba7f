// The physical form in which an instance's SQL database lives in the store: its pages. A step's SQL
// transaction commits in the local SQLite file (WAL mode); the frames that commit appended to the
// -wal file are the new images of every page it changed — schema changes, tables without a primary
// key, indexes and the freelist included, which a logical changeset (node:sqlite sessions) misses.
// Those pages go into the journal with the step's result, in one store transaction: the journal is
// the one commit point, and the database is rebuilt from the store's pages (write each page at its
// offset, cut the file at the committed size) wherever the local file is missing, behind or ahead.
//
// What this module owns: reading the WAL format (header, frames, the running checksum, salts) to find
// the frames of the last commit, and building a database file image from pages. No SQLite calls.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { ErrorCode, WeftError } from "../../core/errors.ts";
import type { SqlDelta } from "../../core/journal.ts";

export type { SqlDelta };

const WAL_HEADER = 32;
const FRAME_HEADER = 24;

/** where the last commit this connection knows of ends in the -wal file, and the checksum there */
export interface WalCursor {
  salt1: number;
  salt2: number;
  /** byte offset just past the last commit frame (WAL_HEADER when the log holds no frame yet) */
  end: number;
  c0: number;
  c1: number;
}

/** the frames of one commit: for each page its last image's offset in the -wal file */
export interface CommitFrames {
  pageSize: number;
  nPages: number;
  /** [pgno, offset of the page data] */
  frames: [number, number][];
  /** the page images themselves, when the commit is small (read while checking the frames) */
  pages?: { pgno: number; data: Uint8Array }[];
}

/** a commit up to this size hands its pages over with the frames (no second read) */
const INLINE_BYTES = 4 * 1024 * 1024;

/**
 * SQLite's WAL checksum over `len` bytes (a multiple of 8) from `off`, continuing (s0, s1). The
 * words are read in the byte order the header's magic names (bit 0: big-endian).
 */
function checksum(b: Buffer, off: number, len: number, bigEndian: boolean, s: [number, number]): [number, number] {
  let [s0, s1] = s;
  for (let i = off, end = off + len; i < end; i += 8) {
    const x0 = bigEndian ? b.readUInt32BE(i) : b.readUInt32LE(i);
    const x1 = bigEndian ? b.readUInt32BE(i + 4) : b.readUInt32LE(i + 4);
    s0 = (s0 + x0 + s1) >>> 0;
    s1 = (s1 + x1 + s0) >>> 0;
  }
  return [s0, s1];
}

function readAt(fd: number, off: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, b, got, len - got, off + got);
    if (n === 0) break;
    got += n;
  }
  return got === len ? b : b.subarray(0, got);
}

interface Header { pageSize: number; bigEndian: boolean; salt1: number; salt2: number; c0: number; c1: number }

function header(fd: number): Header | undefined {
  const h = readAt(fd, 0, WAL_HEADER);
  if (h.length < WAL_HEADER) return undefined;
  const magic = h.readUInt32BE(0);
  if ((magic & 0xfffffffe) !== 0x377f0682) return undefined;
  const bigEndian = (magic & 1) === 1;
  const [c0, c1] = checksum(h, 0, 24, bigEndian, [0, 0]);
  if (c0 !== h.readUInt32BE(24) || c1 !== h.readUInt32BE(28)) return undefined;
  return { pageSize: h.readUInt32BE(8) || 65536, bigEndian, salt1: h.readUInt32BE(16), salt2: h.readUInt32BE(20), c0, c1 };
}

/**
 * Walk the valid frames from `from` (checksums chained from `seed`) to the last commit: where it
 * ends, how many commits there are, and (`collect`) the frames of the first one.
 */
function walk(fd: number, h: Header, from: number, seed: [number, number], collect: boolean): { cursor: WalCursor; commit?: CommitFrames; commits: number } {
  const size = fstatSync(fd).size;
  const frameBytes = FRAME_HEADER + h.pageSize;
  let s = seed;
  let cursor: WalCursor = { salt1: h.salt1, salt2: h.salt2, end: from, c0: seed[0], c1: seed[1] };
  let pending = new Map<number, number>();
  let images = new Map<number, Uint8Array>();
  let inline = collect;
  let commits = 0;
  let first: CommitFrames | undefined;
  for (let off = from; off + frameBytes <= size; off += frameBytes) {
    const f = readAt(fd, off, frameBytes);
    if (f.length < frameBytes) break;
    const pgno = f.readUInt32BE(0);
    if (pgno === 0 || f.readUInt32BE(8) !== h.salt1 || f.readUInt32BE(12) !== h.salt2) break;
    const next = checksum(f, FRAME_HEADER, h.pageSize, h.bigEndian, checksum(f, 0, 8, h.bigEndian, s));
    if (next[0] !== f.readUInt32BE(16) || next[1] !== f.readUInt32BE(20)) break;
    s = next;
    pending.set(pgno, off + FRAME_HEADER);
    if (inline) {
      images.set(pgno, f.subarray(FRAME_HEADER));
      if (images.size * h.pageSize > INLINE_BYTES) (inline = false), images.clear();
    }
    const nTruncate = f.readUInt32BE(4);
    if (nTruncate === 0) continue;
    cursor = { salt1: h.salt1, salt2: h.salt2, end: off + frameBytes, c0: s[0], c1: s[1] };
    if (++commits === 1 && collect) {
      first = { pageSize: h.pageSize, nPages: nTruncate, frames: [...pending].filter(([p]) => p <= nTruncate) };
      if (inline) first.pages = [...images].filter(([p]) => p <= nTruncate).sort((a, b) => a[0] - b[0]).map(([pgno, data]) => ({ pgno, data }));
    }
    pending = new Map();
    images = new Map();
    inline = false;
  }
  return { cursor, commit: first, commits };
}

function withWal<T>(walPath: string, fn: (fd: number) => T, missing: () => T): T {
  let fd: number;
  try {
    fd = openSync(walPath, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return missing();
    throw e;
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/** The end of the last valid commit in the -wal file (undefined: no log, or no valid header yet). */
export function walCursor(walPath: string): WalCursor | undefined {
  return withWal(walPath, (fd) => {
    const h = header(fd);
    return h && walk(fd, h, WAL_HEADER, [h.c0, h.c1], false).cursor;
  }, () => undefined);
}

/**
 * The frames of the one commit made after `cursor` by the caller's connection, which must be the
 * database's only writer: a log with any other commit after the cursor (another connection wrote
 * the file) is refused — its pages would be journaled as this step's. A log that SQLite restarted
 * since (new salts) is read from its start.
 */
export function commitAfter(walPath: string, cursor: WalCursor | undefined): { cursor: WalCursor; commit: CommitFrames } {
  const r = withWal(walPath, (fd) => {
    const h = header(fd);
    if (!h) return undefined;
    const fresh = !cursor || cursor.salt1 !== h.salt1 || cursor.salt2 !== h.salt2;
    return walk(fd, h, fresh ? WAL_HEADER : cursor.end, fresh ? [h.c0, h.c1] : [cursor.c0, cursor.c1], true);
  }, () => undefined);
  if (!r?.commit || r.commits !== 1) {
    throw new WeftError(ErrorCode.InvalidState, `the commit's frames cannot be told apart in ${walPath} (${r?.commits ?? 0} commits since this connection's last one): another connection wrote the instance database; the attempt is not journaled and the run replays from the store's copy`, { path: walPath });
  }
  return { cursor: r.cursor, commit: r.commit };
}

/** Read the page images of a commit (after commitAfter, before the next write transaction). */
export async function readCommit(walPath: string, c: CommitFrames, seq: number, by: number): Promise<SqlDelta> {
  if (c.pages) return { seq, by, pageSize: c.pageSize, nPages: c.nPages, pages: c.pages };
  const fh = await open(walPath, "r");
  try {
    const pages: SqlDelta["pages"] = [];
    for (const [pgno, off] of c.frames.sort((a, b) => a[0] - b[0])) {
      const data = Buffer.allocUnsafe(c.pageSize);
      const { bytesRead } = await fh.read(data, 0, c.pageSize, off);
      if (bytesRead !== c.pageSize) throw new WeftError(ErrorCode.Internal, `page ${pgno} of the commit is cut short in ${walPath}`, { path: walPath });
      pages.push({ pgno, data });
    }
    return { seq, by, pageSize: c.pageSize, nPages: c.nPages, pages };
  } finally {
    await fh.close();
  }
}

/** A database file image from its pages (pgno 1…nPages; a page never written is zeros, as SQLite leaves it). */
export function buildImage(pageSize: number, nPages: number, pages: Iterable<{ pgno: number; data: Uint8Array }>): Uint8Array {
  const out = new Uint8Array(pageSize * nPages);
  for (const p of pages) {
    if (p.pgno < 1 || p.pgno > nPages) continue;
    if (p.data.byteLength !== pageSize) throw new WeftError(ErrorCode.Internal, `page ${p.pgno} has ${p.data.byteLength} bytes, the page size is ${pageSize}`, { pgno: p.pgno });
    out.set(p.data, (p.pgno - 1) * pageSize);
  }
  return out;
}

/** The pages of a database file image (its page size is in its header). */
export function splitImage(image: Uint8Array): { pageSize: number; nPages: number; pages: { pgno: number; data: Uint8Array }[] } {
  const b = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
  if (b.length < 100 || b.toString("latin1", 0, 16) !== "SQLite format 3\0") throw new WeftError(ErrorCode.InvalidArgument, "the bytes are not an SQLite database file");
  const raw = b.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  const nPages = Math.floor(b.length / pageSize);
  const pages = [];
  for (let i = 0; i < nPages; i++) pages.push({ pgno: i + 1, data: image.subarray(i * pageSize, (i + 1) * pageSize) });
  return { pageSize, nPages, pages };
}

let rebuilds = 0;

/**
 * Write a database file at `path` from its pages, atomically replacing what is there (with its -wal
 * and -shm: a stale log would be replayed over the new file). Pages come in parts, ascending; the
 * file is written page by page, never held whole in memory. Nothing may have the file open for writing.
 */
export async function writeDatabaseFile(path: string, pageSize: number, nPages: number, parts: AsyncIterable<{ pgno: number; data: Uint8Array }[]>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.rebuilding-${process.pid}-${(rebuilds = (rebuilds + 1) % 1e9)}`;
  const fh = await open(tmp, "w");
  try {
    try {
      for await (const part of parts) {
        for (const p of part) {
          if (p.pgno < 1 || p.pgno > nPages) continue;
          if (p.data.byteLength !== pageSize) throw new WeftError(ErrorCode.Internal, `page ${p.pgno} has ${p.data.byteLength} bytes, the page size is ${pageSize}`, { pgno: p.pgno });
          await fh.write(p.data, 0, pageSize, (p.pgno - 1) * pageSize);
        }
      }
      await fh.truncate(pageSize * nPages);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  for (const suffix of ["-wal", "-shm"]) await rm(path + suffix, { force: true });
  await rename(tmp, path);
}
