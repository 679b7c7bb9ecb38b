// POST /ingest/build-logs/<job> — console text of any size, streamed: never held whole in memory. An
// encapsulated plugin whose content-type parser hands the raw request stream to the handler.
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { BusUnavailableError } from '../../bus/types.ts';
import type { Secret } from '../../config/secrets.ts';
import type { Counters } from '../../metrics.ts';
import { tokenEquals } from '../crypto.ts';
import type { BuildLogWriter } from './writer.ts';

export interface BuildLogsPluginOptions {
  writer: BuildLogWriter;
  token: Secret;
  metrics: Counters;
}

// Job ids are free text chosen by the sender ("jenkins:myjob:42"), minus control characters.
const JOB_ID = /^[^\u0000-\u001f\u007f]{1,512}$/;

export async function buildLogsPlugin(app: FastifyInstance, opts: BuildLogsPluginOptions): Promise<void> {
  const { metrics } = opts;
  metrics.describe('pipewarden_build_log_uploads_total', 'Build-log uploads by result.');
  metrics.describe('pipewarden_build_log_bytes_total', 'Build-log bytes published to the build-logs topic.');

  // The body is not read here: the handler streams it (this parser applies to this plugin's routes only).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  // A wildcard, not a :job parameter: Jenkins' $JOB_NAME holds '/' for folder and multibranch jobs, sent raw
  // or URL-encoded, and a wildcard is not held to the router's 100-character parameter limit (414).
  app.post<{ Params: { '*': string } }>(
    '/ingest/build-logs/*',
    { schema: { params: { type: 'object', properties: { '*': { type: 'string' } }, required: ['*'] } } },
    async (req, reply) => {
      const count = (result: string) => metrics.inc('pipewarden_build_log_uploads_total', { result });
      const refuse = (status: number, result: string, message: string) => {
        count(result);
        // The unread body is not drained (it may be gigabytes): close the connection after answering.
        reply.header('connection', 'close');
        return reply.status(status).send({ error: result, message });
      };
      const auth = req.headers.authorization ?? '';
      const sent = /^Bearer\s+(.+)$/i.exec(auth)?.[1] ?? '';
      if (!auth) return refuse(401, 'unauthorized', 'missing Authorization header (send Bearer <token>)');
      if (!tokenEquals(opts.token.reveal(), sent))
        return refuse(401, 'unauthorized', 'the bearer token does not match');
      const job = req.params['*'];
      if (!JOB_ID.test(job))
        return refuse(400, 'bad_request', 'job id must be 1 to 512 characters without control characters');
      const body = req.body as Readable | undefined;
      if (!body || typeof (body as Readable)[Symbol.asyncIterator] !== 'function') {
        return refuse(400, 'bad_request', 'request body is empty');
      }
      const colon = job.indexOf(':');
      const source = colon > 0 ? job.slice(0, colon) : 'upload';
      try {
        const result = await opts.writer.write(body, { job, source });
        count('accepted');
        metrics.inc('pipewarden_build_log_bytes_total', {}, result.bytes);
        metrics.inc('pipewarden_build_log_secrets_total', {}, result.findings);
        return reply
          .status(202)
          .send({ job, chunks: result.chunks, bytes: result.bytes, secrets: result.findings });
      } catch (err) {
        if (body.readableAborted || body.errored) {
          // The client went away mid-upload: nothing to answer; what was published has no final chunk.
          req.log.warn({ job, err }, 'Build-log upload ended early.');
          count('aborted');
          return reply;
        }
        req.log.error({ job, err }, 'Bus refused a build-log chunk; the sender is told to retry.');
        reply.header('retry-after', '5');
        const why = err instanceof BusUnavailableError ? err.message : 'bus error';
        return refuse(503, 'unavailable', `the log could not be stored durably (${why}); retry the upload`);
      }
    },
  );
}
