// Composition root: builds every part from the frozen config, start() and stop() in order.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from './config/schema.js';
import { AuthGate } from './auth/auth-gate.js';
import { loginRefusedEarly, SessionStore } from './http/recordings-routes.js';
import { IcewireError } from './errors.js';
import type { Logger } from './log.js';
import { BroadcastRegistry } from './broadcast/registry.js';
import { DEFAULT_RECONNECT } from './broadcast/rendition-output.js';
import { createApp } from './http/app.js';
import { BODY_TIMEOUT_MS, HEADERS_TIMEOUT_MS, IDLE_TIMEOUT_MS } from './http/request-deadlines.js';
import { ConnectionRouter } from './ingest/connection-router.js';
import { IngestServer } from './ingest/ingest-server.js';
import { SourceServer } from './ingest/source-server.js';
import { METADATA_PATHS, sourceMetadataHandler } from './ingest/source-metadata.js';
import { systemClock } from './clock.js';
import { GuestDoor } from './guests/guest-door.js';
import { StatsPoller } from './icecast/stats-poller.js';
import { resolveFfmpegPath } from './pipeline/ffmpeg-process.js';
import { createMetrics, registerGauges, type Metrics } from './metrics.js';
import type { Broadcast, BroadcastDeps } from './broadcast/broadcast.js';
import type { ShowRecorder } from './broadcast/ogg-fanout.js';
import { RecordingLedger } from './recorder/recording-ledger.js';
import { RetentionSweeper } from './recorder/retention.js';
import { createShowRecorder } from './recorder/show-recorder.js';

/** How long stop() lets broadcasts finish before killing what's left (the daemon exits within 10 s). */
export const SHUTDOWN_BROADCASTS_MS = 7000;

export class Daemon {
  readonly registry: BroadcastRegistry;
  readonly stats: StatsPoller;
  readonly metrics: Metrics;
  /** The one login gate of every front door (one failed-login limiter). */
  readonly auth: AuthGate;
  private readonly loginSessions: SessionStore;
  private readonly ingest: IngestServer;
  /** Desktop source clients (PUT/SOURCE /<mount>). */
  private readonly sources: SourceServer;
  /** Guests on air by link: the signalling door (/ws/_guest/<station>). */
  readonly guests: GuestDoor;
  private readonly server: Server;
  /** The listening socket of the main address, and of sourceListen when set. */
  private readonly router: ConnectionRouter;
  private readonly sourceRouter: ConnectionRouter | undefined;
  /** /metrics on its own private address, when metrics.listen is set. */
  private readonly metricsServer: Server | undefined;
  private stopping: Promise<void> | undefined;
  /** Deletes recordings older than recordings.keepDays. */
  private readonly sweeper: RetentionSweeper;
  /** Recordings that failed in ways the disk could not record (shown in the recordings list). */
  private readonly recordingLedger: RecordingLedger;

  constructor(private currentConfig: Config, private readonly logger: Logger) {
    const config = currentConfig;
    this.metrics = createMetrics();
    this.registry = new BroadcastRegistry({
      maxBroadcasts: config.limits.maxBroadcasts, kickBanMs: config.limits.kickBanMs, logger,
      // what runs only while something is live: Icecast's stats (otherwise on demand: /healthz,
      // /metrics) and the event-loop sampling
      holdWhileLive: () => {
        const stats = this.stats.hold();
        const loop = this.metrics.eventLoopSampling.hold();
        return () => { stats(); loop(); };
      },
    });
    this.stats = new StatsPoller({ url: config.icecast.url, intervalMs: config.icecast.statsIntervalMs, logger });
    const ffmpegPath = resolveFfmpegPath(config.ffmpegPath);
    registerGauges(this.metrics, {
      liveBroadcasts: () => {
        const by = new Map<string, number>();
        for (const b of this.registry.all()) by.set(b.ingest, (by.get(b.ingest) ?? 0) + 1);
        return by;
      },
      listeners: () => this.stats.allListeners(),
      icecastUp: async () => {
        await this.stats.fresh();
        return this.stats.isReachable === undefined ? undefined : Number(this.stats.isReachable);
      },
    });
    // One store of login sessions: POST /api/login issues tokens, and a WebSocket hello may present
    // one in place of the password (a reloaded broadcaster page).
    this.loginSessions = new SessionStore();
    this.auth = new AuthGate({ accounts: () => this.config.broadcasters, icecastUser: config.icecast.sourceUser, limits: config.limits, logger, loginTokens: this.loginSessions });
    const broadcastDeps: BroadcastDeps = {
      icecastUrl: config.icecast.url,
      icecastPublicUrl: config.icecast.publicUrl,
      legacySource: config.icecast.legacySource,
      instanceName: config.instanceName,
      connectTimeoutMs: config.icecast.connectTimeoutMs,
      ffmpegPath,
      stats: this.stats,
      logger,
      reconnect: { ...DEFAULT_RECONNECT, giveUpMs: config.icecast.reconnectGiveUpMs },
      reconnectGraceMs: config.limits.reconnectGraceMs,
      stallTimeoutMs: config.limits.stallTimeoutMs,
      idleTimeoutMs: config.limits.idleTimeoutMs,
      maxQueueBytes: config.limits.maxQueueBytes,
      metrics: this.metrics,
      createRecorder: (b) => this.recorderFor(b),
    };
    // every front door builds the same broadcasts: the webcast WebSocket and the Icecast-protocol source door
    const doors = { config, registry: this.registry, auth: this.auth, logger, metrics: this.metrics, broadcastDeps };
    this.ingest = new IngestServer(doors);
    this.sources = new SourceServer(doors);
    this.guests = new GuestDoor({ config, auth: this.auth, logger });
    const metadataDeps = { config: () => this.config, registry: this.registry, auth: this.auth, logger };
    const metadata = sourceMetadataHandler(metadataDeps);
    this.sweeper = new RetentionSweeper({ dir: config.recordings.dir, keepDays: config.recordings.keepDays, logger });
    this.recordingLedger = new RecordingLedger();
    const metricsHere = config.metrics.enabled && config.metrics.listen === undefined;
    const recordings = { config: () => this.config, dir: config.recordings.dir, logger, auth: this.auth, ledger: this.recordingLedger, sessions: this.loginSessions };
    const app = createApp({
      config: () => this.config, registry: this.registry, stats: this.stats, logger,
      metricsRegistry: metricsHere ? () => this.metrics.registry : undefined,
      recordings,
      sourceMetadata: { paths: METADATA_PATHS, handle: metadata },
    });
    if (config.metrics.enabled && config.metrics.listen !== undefined) {
      this.metricsServer = createServer((req, res) => {
        if (req.method === 'GET' && req.url === '/metrics') {
          const reg = this.metrics.registry;
          void reg.metrics().then((text) => { res.writeHead(200, { 'Content-Type': reg.contentType }); res.end(text); });
        } else {
          res.writeHead(404).end();
        }
      });
    }
    // Request heads (WebSocket upgrades too) are cut after headersTimeout, checked every second
    // rather than Node's default 30 s; bodies have the app's per-request deadline and idle
    // connections server.timeout. No requestTimeout: it would cut streaming uploads
    // (http/request-deadlines.ts says why).
    // A login guess from an address over its limit is refused before express (a flood's cost).
    this.server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: 0, connectionsCheckingInterval: 1000 }, (req, res) => {
      if (!loginRefusedEarly(recordings, req, res)) app(req, res);
    });
    this.server.timeout = IDLE_TIMEOUT_MS;
    this.server.on('upgrade', (req, socket, head) => {
      if (!this.guests.handleUpgrade(req, socket, head) && !this.ingest.handleUpgrade(req, socket, head)) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      }
    });
    // The listening socket: Icecast source requests to the source door, the rest to this.server.
    const source = (socket: Socket, first: Buffer): void => this.sources.handle(socket, first);
    this.router = new ConnectionRouter({ http: this.server, source, headTimeoutMs: HEADERS_TIMEOUT_MS, clock: systemClock });
    if (config.sourceListen !== undefined) {
      // sourceListen: source clients and their metadata updates only
      const direct = sourceMetadataHandler({ ...metadataDeps, trustProxy: false });
      const onlyMetadata = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: BODY_TIMEOUT_MS, connectionsCheckingInterval: 1000 }, (req, res) => {
        const path = (req.url ?? '').split('?')[0]!;
        if (req.method === 'GET' && (METADATA_PATHS as readonly string[]).includes(path)) direct(req, res);
        else res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('This address takes Icecast source clients only.\r\n');
      });
      onlyMetadata.timeout = IDLE_TIMEOUT_MS;
      this.sourceRouter = new ConnectionRouter({ http: onlyMetadata, source, headTimeoutMs: HEADERS_TIMEOUT_MS, clock: systemClock });
    }
  }

  get config(): Config {
    return this.currentConfig;
  }

  /**
   * The show recorder for a new broadcast, when its station mount records. Accounts mode only
   * (passthrough has no station config). A broadcast that never goes live leaves no recording.
   */
  private recorderFor(b: Broadcast): ShowRecorder | undefined {
    const cfg = this.config;
    if (cfg.auth.mode !== 'accounts') return undefined;
    const m = Object.hasOwn(cfg.mounts, b.stationMount) ? cfg.mounts[b.stationMount] : undefined;
    if (m?.record !== true) return undefined;
    return createShowRecorder({
      dir: cfg.recordings.dir,
      stationMount: b.stationMount,
      user: b.user,
      // a WebM video upload is archived as sent; every other upload as its Opus audio
      video: b.input.video !== undefined && b.input.container === 'webm',
      segmentMs: m.segmentMinutes !== undefined ? m.segmentMinutes * 60000 : undefined,
      logger: this.logger,
      ledger: this.recordingLedger,
      keep: () => b.since !== undefined,
    });
  }

  /**
   * Take a new config (SIGHUP): broadcasters, station mounts, origins and limits apply to new
   * connections; live broadcasts carry on untouched. Keys that need a restart are kept and named.
   */
  reload(next: Config): void {
    const prev = this.currentConfig;
    const needRestart: string[] = [];
    if (JSON.stringify(next.listen) !== JSON.stringify(prev.listen)) needRestart.push('listen');
    if (JSON.stringify(next.sourceListen) !== JSON.stringify(prev.sourceListen)) needRestart.push('sourceListen');
    if (JSON.stringify(next.icecast) !== JSON.stringify(prev.icecast)) needRestart.push('icecast');
    if (next.ffmpegPath !== prev.ffmpegPath) needRestart.push('ffmpegPath');
    if (JSON.stringify(next.recordings) !== JSON.stringify(prev.recordings)) needRestart.push('recordings');
    const merged: Config = Object.freeze({ ...next, listen: prev.listen, sourceListen: prev.sourceListen, icecast: prev.icecast, ffmpegPath: prev.ffmpegPath, recordings: prev.recordings });
    this.currentConfig = merged;
    this.ingest.setConfig(merged);
    this.sources.setConfig(merged);
    this.guests.setConfig(merged);
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
    await this.router.listen(this.config.listen, LISTEN_BACKLOG);
    if (this.sourceRouter !== undefined && this.config.sourceListen !== undefined) {
      const s = await this.sourceRouter.listen(this.config.sourceListen, LISTEN_BACKLOG);
      this.logger.info('Icecast source clients are also taken on their own address', { address: `${s.address}:${s.port}` });
    }
    if (this.metricsServer !== undefined && this.config.metrics.listen !== undefined) {
      await listenOn(this.metricsServer, this.config.metrics.listen);
      const m = this.metricsServer.address() as AddressInfo;
      this.logger.info('metrics are served on their own address', { url: `http://${m.address}:${m.port}/metrics` });
    }
    this.sweeper.start();
    const addr = this.router.address;
    this.logger.info('icewire is listening', {
      url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/`,
      authMode: this.config.auth.mode,
      icecast: this.config.icecast.url,
    });
    return addr;
  }

  get address(): AddressInfo {
    return this.router.address;
  }

  /** Whether Node's HTTP head-deadline timer runs now (only while an HTTP connection is open). */
  get checkingHttpDeadlines(): boolean {
    return this.router.checking;
  }

  /** Where sourceListen is served, when set. */
  get sourceAddress(): AddressInfo | undefined {
    return this.sourceRouter?.address;
  }

  /** Where /metrics is served when metrics.listen is set. */
  get metricsAddress(): AddressInfo | undefined {
    return (this.metricsServer?.address() ?? undefined) as AddressInfo | undefined;
  }

  /** Stop accepting, end every broadcast cleanly (bounded), close everything. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info('icewire is stopping', { broadcasts: this.registry.size });
      this.router.close();
      this.sourceRouter?.close();
      this.server.close();
      this.metricsServer?.close();
      await this.sources.close();
      this.sweeper.stop();
      await this.registry.endAll('shutdown', new IcewireError('IW_ERR_SHUTTING_DOWN'), SHUTDOWN_BROADCASTS_MS);
      await Promise.all([this.ingest.close(), this.guests.close()]);
      this.stats.stop();
      this.server.closeAllConnections();
      this.logger.info('icewire stopped');
    })();
    return this.stopping;
  }
}

/**
 * Connections the kernel may hold for us before we accept them (capped by net.core.somaxconn).
 * Node's 511 overflows under a burst of a few hundred connections (a login flood), and then an
 * honest client's connection attempt is dropped and retried by its TCP stack 1 s, 3 s later; a
 * pending connection costs the kernel a few hundred bytes and us nothing until it is accepted.
 */
const LISTEN_BACKLOG = 4096;

function listenOn(server: Server, at: { host: string; port: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: at.port, host: at.host, backlog: LISTEN_BACKLOG }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function createDaemon(config: Config, logger: Logger): Daemon {
  return new Daemon(config, logger);
}
