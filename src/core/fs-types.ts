// Value types of an instance's filesystem, shared by the isolate protocol, the git-native worktree
// and the host API (so no lower layer imports the isolate protocol for them).
export interface FsStat {
  type: "file" | "directory";
  size: number;
  /** git object id of the file's blob or the directory's tree (null for a directory not committed yet) */
  oid: string | null;
}

export interface FsCommit {
  oid: string;
  message: string;
  /** the step that made it */
  step: { name: string; count: number } | null;
  /** commit time, ms since the epoch */
  at: number;
  parents: string[];
}

export interface FsChange {
  path: string;
  change: "added" | "deleted" | "modified";
}
