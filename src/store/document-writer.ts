// Single-document writes to Elasticsearch (alert records, state documents such as incidents): up to
// MAX_IN_FLIGHT requests go out as they come; writes made while that many are in flight go out together in
// the next _bulk, each caller answered by its own item. The alert role handles many hits at once, each
// writing a few documents: under load each lone write waited in the node's write queue (10 writes at once:
// ~50–100 ms each on the loaded test machine; the same 10 documents in one bulk: ~5–10 ms). With a single
// request in flight, one stalled bulk held every write behind it (alert p99 of 3–6 s in bench/e2e-load.ts,
// against 1–2 s with four). Same durability: a bulk resolves once its documents are in the translog, as a
// single index request does.
import { type Client, errors } from '@elastic/elasticsearch';

/** Documents per bulk at most; more wait for the next one. */
const MAX_DOCUMENTS = 500;
/** Requests in flight at most; writes beyond wait and go out together. */
const MAX_IN_FLIGHT = 4;

interface PendingWrite {
  index: string;
  id: string;
  document: unknown;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class DocumentWriter {
  readonly #client: Client;
  readonly #queue: PendingWrite[] = [];
  #inFlight = 0;

  constructor(client: Client) {
    this.#client = client;
  }

  /** Indexes (creates or replaces) the document; resolves when Elasticsearch took it. */
  write(index: string, id: string, document: unknown): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ index, id, document, resolve, reject });
      if (this.#inFlight < MAX_IN_FLIGHT) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#inFlight++;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_DOCUMENTS);
        try {
          const res = await this.#client.bulk({
            operations: batch.flatMap((w) => [{ index: { _index: w.index, _id: w.id } }, w.document]),
            refresh: false,
          });
          batch.forEach((w, i) => {
            const item = res.items[i]?.index;
            if (!item) w.reject(new Error(`Elasticsearch did not answer for ${w.id}`));
            else if (item.error) w.reject(itemError(item.status, item.error));
            else w.resolve();
          });
        } catch (err) {
          for (const w of batch) w.reject(err as Error);
        }
      }
    } finally {
      this.#inFlight--;
    }
  }
}

/** A bulk item's failure as the error a lone request would have thrown (so 429 and 503 read as "retry later"). */
function itemError(status: number, error: unknown): Error {
  const meta = { body: { error, status }, statusCode: status, headers: {}, warnings: null, meta: {} };
  return new errors.ResponseError(meta as unknown as ConstructorParameters<typeof errors.ResponseError>[0]);
}
