// `skillgate recorder`: the recorder Deployment's entrypoint. Joins the consumer group on every
// namespace stream, archives events durably (then acknowledges), reclaims stuck entries, and
// serves Prometheus metrics. Stops cleanly on SIGTERM/SIGINT after the current round.
import { createServer } from 'node:http';
import { hostname } from 'node:os';
import { FileArchive, RecorderMetrics, RecorderWorker, recorderLogger, recorderRedis } from '@skillgate/recorder';
import { CliError, type Command } from '../command.js';

/** How long a stop waits for the current round before giving it up (its block time is 2 s). */
const STOP_GRACE_MS = 5000;

export const recorderCommand: Command = {
  name: ['recorder'],
  summary: 'Run the recorder: move session events from Redis Streams to the durable archive',
  usage: 'recorder [--redis URL] [--archive DIR] [--prefix P] [--group G] [--consumer NAME] [--metrics-port N|off] [--claim-idle-ms N]',
  help: `Options:
  --redis URL          Redis (default REDIS_URL)
  --archive DIR        archive directory (default SKILLGATE_ARCHIVE_DIR or ./.skillgate/archive)
  --prefix P           Redis key prefix (default SKILLGATE_REDIS_PREFIX or skillgate:)
  --group G            consumer group (default skillgate-recorder)
  --consumer NAME      consumer name (default the pod/host name)
  --metrics-port N     serve /metrics on this port (default 15090; 0 picks one; off disables)
  --claim-idle-ms N    reclaim entries another consumer left unacknowledged this long (default 60000)

The archive is readable by every forensics command: skillgate sessions list|show|replay|find|verify|export
--archive DIR. SIGTERM or SIGINT stops it after the current round (within a few seconds, also while
Redis is unreachable).`,
  options: {
    redis: { type: 'string' }, archive: { type: 'string' }, prefix: { type: 'string' }, group: { type: 'string' },
    consumer: { type: 'string' }, 'metrics-port': { type: 'string' }, 'claim-idle-ms': { type: 'string' },
  },
  async run({ values }) {
    const s = (n: string) => (typeof values[n] === 'string' ? (values[n] as string) : undefined);
    const url = s('redis') ?? process.env.REDIS_URL;
    if (!url) throw new CliError('the recorder needs Redis: pass --redis URL or set REDIS_URL');
    const metricsPortText = s('metrics-port') ?? '15090';
    const metricsPort = metricsPortText === 'off' ? -1 : Number(metricsPortText);
    const claimIdleMs = Number(s('claim-idle-ms') ?? 60_000);
    if (!Number.isInteger(metricsPort) || metricsPort < -1 || metricsPort > 65535) throw new CliError(`--metrics-port must be a port from 0 to 65535, or off: not ${metricsPortText}`, 2);
    if (!Number.isInteger(claimIdleMs) || claimIdleMs < 0) throw new CliError('--claim-idle-ms must be a non-negative integer', 2);
    const log = recorderLogger();
    const archive = await FileArchive.open(s('archive') ?? process.env.SKILLGATE_ARCHIVE_DIR ?? './.skillgate/archive');
    const metrics = new RecorderMetrics({ defaultMetrics: true });
    const redis = recorderRedis(url, (err) => log.warn({ err: err.message }, 'redis connection error'));
    const worker = new RecorderWorker({
      redis, archive, metrics, log, claimIdleMs,
      prefix: s('prefix') ?? process.env.SKILLGATE_REDIS_PREFIX ?? 'skillgate:',
      group: s('group') ?? 'skillgate-recorder',
      consumer: s('consumer') ?? process.env.SKILLGATE_POD_NAME ?? hostname(),
    });
    const server = metricsPort >= 0 ? createServer((req, res) => {
      if (req.url === '/metrics') {
        metrics.registry.metrics().then((text) => { res.setHeader('content-type', metrics.registry.contentType); res.end(text); }, () => { res.statusCode = 500; res.end(); });
      } else if (req.url === '/healthz' || req.url === '/readyz') {
        res.end('ok\n');
      } else {
        res.statusCode = 404;
        res.end();
      }
    }) : undefined;
    if (server) await new Promise<void>((resolve) => server.listen(metricsPort, resolve));
    let stopAsked!: () => void;
    const asked = new Promise<void>((resolve) => { stopAsked = resolve; });
    const stop = (): void => {
      worker.stop();
      stopAsked();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    log.info({ archive: archive.location, consumer: worker.consumer, group: worker.group }, 'recorder started');
    const running = worker.run();
    running.catch(() => undefined);
    // A round ends within its block time once asked to stop; one that waits for a Redis that is away
    // (the connection retries its commands for ever) is given up after a grace period, once it is
    // not writing to the archive (a slow disk finishes its write; the archive closes after it).
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([running, asked.then(() => new Promise((r) => { grace = setTimeout(r, STOP_GRACE_MS); }))]);
    clearTimeout(grace);
    redis.disconnect();
    while (worker.archiving) await new Promise((r) => setTimeout(r, 50));
    server?.close();
    await archive.close();
    redis.disconnect();
    log.info({}, 'recorder stopped');
    return 0;
  },
};
