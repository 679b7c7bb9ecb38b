// Every build log, uploaded or fetched, goes through here: decoded, scrubbed of secrets (findings become
// events on the events topic), cut into chunks at line ends and published on the build-logs topic. So the
// text that reaches the bus is already redacted (issue 5's invariant: a secret never leaves in clear).
import { eventMessage } from '../../bus/encode.ts';
import type { Bus } from '../../bus/types.ts';
import { LogScrubber } from '../../secrets/edge.ts';
import type { SecretEngine } from '../../secrets/scanner.ts';
import { type ChunkResult, chunkStream } from './chunker.ts';

export interface SecretScanning {
  engine: SecretEngine;
  fingerprintKey: string;
  suppressFingerprints: string[];
  suppressRules: string[];
}

export interface BuildLogWriterOptions {
  bus: Bus;
  buildLogsTopic: string;
  eventsTopic: string;
  chunkBytes: number;
  scanning: SecretScanning;
  now?: () => Date;
}

export class BuildLogWriter {
  readonly #o: BuildLogWriterOptions;

  constructor(options: BuildLogWriterOptions) {
    this.#o = options;
  }

  /** Resolves once every chunk and every finding is durable; rejects (BusUnavailableError) otherwise. */
  async write(
    input: AsyncIterable<Uint8Array | string>,
    log: { job: string; source: string },
  ): Promise<ChunkResult & { findings: number }> {
    const { bus, scanning } = this.#o;
    const scrubber = new LogScrubber({
      engine: scanning.engine,
      fingerprintKey: scanning.fingerprintKey,
      suppressFingerprints: scanning.suppressFingerprints,
      suppressRules: scanning.suppressRules,
      job: log.job,
      source: log.source,
      ...(this.#o.now ? { now: this.#o.now } : {}),
    });
    const eventsTopic = this.#o.eventsTopic;
    async function* scrubbed(): AsyncGenerator<string> {
      const decoder = new TextDecoder('utf-8'); // stream mode: a character split across reads is kept whole
      const emit = async (out: { text: string; events: import('../../event.ts').PipewardenEvent[] }) => {
        // Findings first: by the time the redacted text is on the bus, its alerts are too.
        if (out.events.length) {
          await bus.publish(
            eventsTopic,
            out.events.map((e) => eventMessage(e, log.job)),
          );
        }
        return out.text;
      };
      for await (const part of input) {
        const text = await emit(
          scrubber.push(typeof part === 'string' ? part : decoder.decode(part, { stream: true })),
        );
        if (text) yield text;
      }
      const rest = decoder.decode();
      const tail = (rest ? await emit(scrubber.push(rest)) : '') + (await emit(scrubber.end()));
      if (tail) yield tail;
    }
    const result = await chunkStream(scrubbed(), {
      job: log.job,
      source: log.source,
      chunkBytes: this.#o.chunkBytes,
      publish: (chunk) =>
        bus.publish(this.#o.buildLogsTopic, [{ key: chunk.job, value: JSON.stringify(chunk) }]),
    });
    return { ...result, findings: scrubber.findings };
  }
}
