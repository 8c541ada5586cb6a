// Composition root: builds every part from the frozen config, start() and stop() in order.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/schema.js';
import { IcewireError } from './errors.js';
import type { Logger } from './log.js';
import { BroadcastRegistry } from './broadcast/registry.js';
import { DEFAULT_RECONNECT } from './broadcast/rendition-output.js';
import { createApp } from './http/app.js';
import { IngestServer } from './ingest/ingest-server.js';
import { StatsPoller } from './icecast/stats-poller.js';
import { resolveFfmpegPath } from './pipeline/ffmpeg-process.js';

/** How long stop() lets broadcasts finish before killing what's left (the daemon exits within 10 s). */
export const SHUTDOWN_BROADCASTS_MS = 7000;
/** A request head (including a WebSocket upgrade) must arrive within this. */
const HEADERS_TIMEOUT_MS = 10000;

export class Daemon {
  readonly registry: BroadcastRegistry;
  readonly stats: StatsPoller;
  private readonly ingest: IngestServer;
  private readonly server: Server;
  private stopping: Promise<void> | undefined;

  constructor(private currentConfig: Config, private readonly logger: Logger) {
    const config = currentConfig;
    this.registry = new BroadcastRegistry({ maxBroadcasts: config.limits.maxBroadcasts, logger });
    this.stats = new StatsPoller({ url: config.icecast.url, intervalMs: config.icecast.statsIntervalMs, logger });
    const ffmpegPath = resolveFfmpegPath(config.ffmpegPath);
    this.ingest = new IngestServer({
      config,
      registry: this.registry,
      logger,
      broadcastDeps: {
        icecastUrl: config.icecast.url,
        icecastPublicUrl: config.icecast.publicUrl,
        legacySource: config.icecast.legacySource,
        connectTimeoutMs: config.icecast.connectTimeoutMs,
        ffmpegPath,
        stats: this.stats,
        logger,
        reconnect: { ...DEFAULT_RECONNECT, giveUpMs: config.icecast.reconnectGiveUpMs },
        reconnectGraceMs: config.limits.reconnectGraceMs,
        stallTimeoutMs: config.limits.stallTimeoutMs,
        idleTimeoutMs: config.limits.idleTimeoutMs,
        maxQueueBytes: config.limits.maxQueueBytes,
      },
    });
    const app = createApp({ config: () => this.config, registry: this.registry, stats: this.stats, logger });
    // Slow or stalled request heads (a slowloris upgrade) are cut after headersTimeout; the
    // check runs every second rather than Node's default 30 s.
    this.server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 0, connectionsCheckingInterval: 1000 }, app);
    this.server.on('upgrade', (req, socket, head) => {
      if (!this.ingest.handleUpgrade(req, socket, head)) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
    });
  }

  get config(): Config {
    return this.currentConfig;
  }

  /**
   * Take a new config (SIGHUP): broadcasters, station mounts, origins and limits apply to new
   * connections; live broadcasts carry on untouched. Keys that need a restart are kept and named.
   */
  reload(next: Config): void {
    const prev = this.currentConfig;
    const needRestart: string[] = [];
    if (JSON.stringify(next.listen) !== JSON.stringify(prev.listen)) needRestart.push('listen');
    if (JSON.stringify(next.icecast) !== JSON.stringify(prev.icecast)) needRestart.push('icecast');
    if (next.ffmpegPath !== prev.ffmpegPath) needRestart.push('ffmpegPath');
    const merged: Config = Object.freeze({ ...next, listen: prev.listen, icecast: prev.icecast, ffmpegPath: prev.ffmpegPath });
    this.currentConfig = merged;
    this.ingest.setConfig(merged);
    this.logger.level = merged.log.level;
    this.logger.info('config reloaded', {
      authMode: merged.auth.mode, mounts: Object.keys(merged.mounts).length, broadcasters: merged.broadcasters.length,
      liveBroadcasts: this.registry.size,
      ...(needRestart.length > 0 ? { needsRestart: needRestart.join(',') } : {}),
    });
    if (needRestart.length > 0) this.logger.warn(`changes to ${needRestart.join(', ')} take effect after a restart`);
  }

  /** Listen; resolves with the bound address. */
  async start(): Promise<AddressInfo> {
    const { host, port } = this.config.listen;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.stats.start();
    const addr = this.server.address() as AddressInfo;
    this.logger.info('icewire is listening', {
      url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/`,
      authMode: this.config.auth.mode,
      icecast: this.config.icecast.url,
    });
    return addr;
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Stop accepting, end every broadcast cleanly (bounded), close everything. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info('icewire is stopping', { broadcasts: this.registry.size });
      this.server.close();
      await this.registry.endAll('shutdown', new IcewireError('IW_ERR_SHUTTING_DOWN'), SHUTDOWN_BROADCASTS_MS);
      await this.ingest.close();
      this.stats.stop();
      this.server.closeAllConnections();
      this.logger.info('icewire stopped');
    })();
    return this.stopping;
  }
}

export function createDaemon(config: Config, logger: Logger): Daemon {
  return new Daemon(config, logger);
}
