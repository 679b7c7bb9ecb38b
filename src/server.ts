// The one HTTP server every role's routes hang on: JSON errors naming the problem, request logs at debug
// (one line per rejected request at info or warn), and a listen that says plainly when the port is taken.
import { STATUS_CODES } from 'node:http';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Config } from './config/schema.ts';
import { serverOptions } from './ingest/guard.ts';
import type { Logger } from './log.ts';

/** A start-up failure the operator fixes by a setting or a flag: the CLI prints its message alone. */
export class StartError extends Error {
  override name = 'StartError';
}

/**
 * Fastify writes two info lines per request by default, which buried everything else. Here: every
 * request at debug; a rejected one (4xx/5xx) once more, as one line at info (4xx) or warn (5xx).
 */
class RequestLogs extends LogController {
  override incomingRequest(request: Parameters<LogController['incomingRequest']>[0]): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(...[error, request, reply]: Parameters<LogController['requestCompleted']>): void {
    const status = reply.statusCode;
    const fields = { res: reply, responseTime: reply.elapsedTime };
    if (error) {
      reply.log.error({ ...fields, err: error }, 'request errored');
      return;
    }
    if (status < 400) {
      reply.log.debug(fields, 'request completed');
      return;
    }
    const what = { ...fields, method: request.method, url: path(request.url), ip: request.ip };
    if (status >= 500) reply.log.warn(what, 'Request ended in a server error.');
    else reply.log.info(what, 'Request rejected.');
  }
}

/** The path without the query string (queries may carry search terms; they are not needed to triage). */
function path(url: string): string {
  return url.split('?')[0] ?? url;
}

export function createServer(config: Config, log: Logger): FastifyInstance {
  const server: FastifyInstance = Fastify({
    loggerInstance: log as unknown as FastifyBaseLogger,
    logController: new RequestLogs(),
    trustProxy: config.server.trustProxy,
    bodyLimit: config.server.bodyLimitBytes,
    ...serverOptions(config.server.limits), // timeouts and a connection cap (src/ingest/guard.ts)
  });
  server.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'Request failed.');
    const message =
      status === 413
        ? `request body exceeds the limit of ${config.server.bodyLimitBytes} bytes`
        : status >= 500
          ? 'internal error; see the collector log'
          : err.message;
    return reply.status(status).send({ error: STATUS_CODES[status] ?? 'error', message });
  });
  server.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: 'Not Found', message: `no route for ${req.method} ${path(req.url)}` }),
  );
  return server;
}

/** Listens, turning a taken or forbidden address into a StartError that names it and the fix. */
export async function listen(server: FastifyInstance, host: string, port: number): Promise<string> {
  try {
    return await server.listen({ host, port });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const where = `${host}:${port}`;
    if (code === 'EADDRINUSE')
      throw new StartError(
        `${where} is already in use (another pipewarden?); choose another with --port or server.port`,
      );
    if (code === 'EACCES')
      throw new StartError(`no permission to listen on ${where}; use a port above 1023 or another --host`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND')
      throw new StartError(
        `cannot listen on ${where}: no such address on this machine (--host or server.host)`,
      );
    throw err;
  }
}
