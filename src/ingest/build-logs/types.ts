// The message format of the build-logs topic (config.topics.buildLogs): console text cut into ordered
// chunks at line boundaries, keyed by job. Producers: POST /ingest/build-logs/<job> and the log fetchers.
// Consumers (the secret scanner) may see a chunk twice after a retry: (job, seq) identifies it.

export interface BuildLogChunk {
  /** The job the log belongs to, e.g. "jenkins:myjob:42", "github:owner/repo:123", "gitlab:42:977". Also the bus key. */
  job: string;
  /** 0, 1, 2, … in the order of the text. */
  seq: number;
  /** Byte offset of `text` in the whole log (UTF-8). */
  offset: number;
  /** Line number (1-based) of the first line in `text`. */
  lines: number;
  /** Whole lines with their "\n" (a single line longer than the hard limit is split, never mid-character). */
  text: string;
  /** Who produced the log: "github", "gitlab", "jenkins", … (the job id's prefix for uploads). */
  source: string;
  /** On the last chunk of a log only. A log whose upload was interrupted has no final chunk. */
  final?: true;
}

/** Target chunk size: chunks are cut at the last line end before this many bytes. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
