// The config schema: the one source of truth for keys, defaults and types (types are inferred).
// Unknown keys are errors everywhere (strictObject), so a typo never silently does nothing.
import type { z } from 'zod';
import { STATION_MOUNT_RE } from '../../www/src/wire-contract.js';
import { RENDITION_FORMATS, TITLE_CHARSETS, type RenditionFormat, type TitleCharset } from '../pipeline/rendition-kinds.js';

// The wire contract owns the pattern (the page checks names with it too); config users read it here.
export { STATION_MOUNT_RE };
export const ICECAST_MOUNT_RE = /^\/[A-Za-z0-9][A-Za-z0-9._\/-]{0,127}$/;
/** A daemon's name among several (instanceName): what Icecast's source statistics show for it. */
export const INSTANCE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

// The rendition kinds table owns the formats: a new format is a row there, and the config accepts it.
export { RENDITION_FORMATS, TITLE_CHARSETS, type RenditionFormat, type TitleCharset };


/** The shape `icewire hash-password` produces (parameters are range-checked when verifying). */
export const PASSWORD_HASH_RE = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;

/**
 * The schemas, made with the zod it is given. The daemon loads zod only to check a config
 * (config/load.ts, withZod) and lets it go after: an idle daemon holds none of it
 * (docs/performance.md, Idle).
 */
export function configSchemas(z: Zod) {
  // Credentials in a URL would end up in logs, /api/info and check-config output; they belong in the
  // *Password(File) keys, which are redacted everywhere.
  const httpUrl = z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .refine((u) => {
      try {
        const parsed = new URL(u);
        return parsed.username === '' && parsed.password === '';
      } catch {
        return true; // already reported by z.url()
      }
    }, 'must not contain a user name or password; use the *Password / *PasswordFile keys');

  const renditionSchema = z.strictObject({
    mount: z.string().regex(ICECAST_MOUNT_RE, 'must be an Icecast mount path such as /live.ogg'),
    format: z.enum(RENDITION_FORMATS),
    /** kbit/s; for transcoded renditions only (mp3, ogg-vorbis, and ogg-opus when set). */
    bitrate: z.number().int().min(8).max(512).optional(),
    /** mp3 only: the mount's <charset> in icecast.xml; default ISO-8859-1, Icecast's own default. */
    charset: z.enum(TITLE_CHARSETS).optional(),
  });

  const stationMountSchema = z.strictObject({
    name: z.string().max(200).optional(),
    description: z.string().max(1000).optional(),
    genre: z.string().max(200).optional(),
    url: httpUrl.optional(),
    public: z.boolean().default(false),
    renditions: z.array(renditionSchema).min(1, 'needs at least one rendition'),
    /** Archive every broadcast on this station mount under recordings.dir (accounts mode). */
    record: z.boolean().default(false),
    /** With record: start a new file every this many minutes of a show. */
    segmentMinutes: z.number().int().min(1).max(1440).optional(),
  });

  const broadcasterSchema = z.strictObject({
    name: z.string().min(1).max(100),
    // The full shape, not just the prefix: a truncated paste would otherwise load fine and then
    // refuse every login with nothing in the config check to say why.
    passwordHash: z.string().regex(PASSWORD_HASH_RE, 'must be a hash made by `icewire hash-password` (scrypt$N$r$p$salt$key), pasted whole'),
    mounts: z.array(z.string().regex(STATION_MOUNT_RE, 'must be a station mount name')).min(1),
  });

  /** A STUN or TURN server for guests' WebRTC connections; TURN gets short-lived credentials from `secret`. */
  const iceServerSchema = z.strictObject({
    urls: z.array(z.string().regex(/^(stun|stuns|turn|turns):[^\s/?#]+(\?transport=(udp|tcp))?$/, 'must be a stun:, stuns:, turn: or turns: URL such as turn:turn.example.org:3478?transport=udp')).min(1).max(8),
    /** coturn's static-auth-secret (use-auth-secret): icewire hands out credentials made from it, never the secret. */
    secret: z.string().min(1).optional(),
    secretFile: z.string().min(1).optional(),
  });

  const configSchema = z
    .strictObject({
      listen: z
        .strictObject({
          host: z.string().min(1).default('127.0.0.1'),
          port: z.number().int().min(0).max(65535).default(8080),
        })
        .default({ host: '127.0.0.1', port: 8080 }),
      /**
       * Also take Icecast source clients (PUT/SOURCE /<mount> and /admin/metadata) on this address,
       * for clients that can't use the main one (e.g. behind nginx's stream proxy for TLS).
       */
      sourceListen: z.strictObject({ host: z.string().min(1), port: z.number().int().min(0).max(65535) }).optional(),
      /** Where people reach the daemon (shown in links; its origin is allowed for WebSockets). */
      publicUrl: httpUrl.optional(),
      /** Extra page origins allowed to open broadcast WebSockets. */
      allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/]+$/, 'must be an origin like https://live.example.org (no path)')).default([]),
      /**
       * This daemon's name when several share one Icecast (docs/scaling.md): sent to Icecast with
       * every source connection, so any daemon can tell which one holds a show. Default: the host name.
       */
      instanceName: z.string().regex(INSTANCE_NAME_RE, 'must be letters, digits, . _ - (max 64), e.g. the host name').optional(),
      /** Behind a reverse proxy on loopback: take the client address from X-Forwarded-For (for rate limits and logs). */
      trustProxy: z.boolean().default(false),
      /** ffmpeg binary; default: ffmpeg-static if installed, else `ffmpeg` on PATH. */
      ffmpegPath: z.string().min(1).optional(),
      icecast: z
        .strictObject({
          url: httpUrl.default('http://127.0.0.1:8000'),
          publicUrl: httpUrl.optional(),
          sourceUser: z.string().min(1).default('source'),
          sourcePassword: z.string().min(1).optional(),
          sourcePasswordFile: z.string().min(1).optional(),
          adminUser: z.string().min(1).optional(),
          adminPassword: z.string().min(1).optional(),
          adminPasswordFile: z.string().min(1).optional(),
          /** Use the legacy SOURCE method instead of PUT (Icecast < 2.4, some relays). */
          legacySource: z.boolean().default(false),
          statsIntervalMs: z.number().int().min(500).max(600000).default(3000),
          connectTimeoutMs: z.number().int().min(100).max(60000).default(5000),
          /** After losing Icecast mid-broadcast, keep reconnecting for this long before ending it. */
          reconnectGiveUpMs: z.number().int().min(0).max(3600000).default(30000),
        })
        .default({ url: 'http://127.0.0.1:8000', sourceUser: 'source', legacySource: false, statsIntervalMs: 3000, connectTimeoutMs: 5000, reconnectGiveUpMs: 30000 }),
      auth: z
        .strictObject({
          mode: z.enum(['accounts', 'passthrough']).optional(),
        })
        .default({}),
      broadcasters: z.array(broadcasterSchema).default([]),
      mounts: z.record(z.string().regex(STATION_MOUNT_RE, 'station mount names are letters, digits, . _ - (max 64)'), stationMountSchema).default({}),
      limits: z
        .strictObject({
          maxBroadcasts: z.number().int().min(1).max(10000).default(50),
          maxFrameBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1048576),
          helloTimeoutMs: z.number().int().min(100).max(120000).default(10000),
          maxFailedLogins: z.number().int().min(1).max(10000).default(10),
          /** Failed (or pending) logins for one account from addresses it has not logged in from, per window. */
          maxFailedLoginsPerAccount: z.number().int().min(1).max(100000).default(50),
          failedLoginWindowMs: z.number().int().min(1000).max(86400000).default(600000),
          maxConnectionsPerAddress: z.number().int().min(1).max(100000).default(20),
          /** Bytes queued towards one ffmpeg or Icecast before the broadcast ends with ingest-too-slow. */
          maxQueueBytes: z.number().int().min(65536).max(256 * 1024 * 1024).default(8 * 1024 * 1024),
          /** How long a broadcast waits for a broadcaster whose connection dropped (keep it under Icecast's source-timeout). */
          reconnectGraceMs: z.number().int().min(0).max(600000).default(8000),
          /** How long the broadcaster's upload may stay paused (Icecast or ffmpeg not reading) before ingest-too-slow. */
          stallTimeoutMs: z.number().int().min(1000).max(600000).default(15000),
          /** A connected broadcaster that sends no media for this long is ended (idle-timeout). */
          idleTimeoutMs: z.number().int().min(1000).max(600000).default(15000),
          /** A broadcaster a station manager kicked is refused on that station this long (0: not at all). */
          kickBanMs: z.number().int().min(0).max(86400000).default(300000),
        })
        .default({
          maxBroadcasts: 50, maxFrameBytes: 1048576, helloTimeoutMs: 10000, maxFailedLogins: 10, maxFailedLoginsPerAccount: 50,
          failedLoginWindowMs: 600000, maxConnectionsPerAddress: 20, maxQueueBytes: 8 * 1024 * 1024,
          reconnectGraceMs: 8000, stallTimeoutMs: 15000, idleTimeoutMs: 15000, kickBanMs: 300000,
        }),
      /** Guests on air by link (accounts mode): hosts invite, guests join from the browser (docs/guests.md). */
      guests: z
        .strictObject({
          enabled: z.boolean().default(true),
          /** Guests in one host's show at once. */
          maxGuests: z.number().int().min(1).max(16).default(4),
          /** Open (not yet used) invitations per host and station. */
          maxInvitations: z.number().int().min(1).max(200).default(20),
          /** How long an invitation link can be used after the host made it. */
          invitationTtlMs: z.number().int().min(1000).max(7 * 86400000).default(7200000),
          /** How long a guest whose page lost its connection keeps their place. */
          rejoinGraceMs: z.number().int().min(1000).max(3600000).default(60000),
        })
        .default({ enabled: true, maxGuests: 4, maxInvitations: 20, invitationTtlMs: 7200000, rejoinGraceMs: 60000 }),
      /** WebRTC between hosts and guests: ICE servers (STUN, TURN with short-lived credentials). */
      webrtc: z
        .strictObject({
          iceServers: z.array(iceServerSchema).max(8).default([]),
          /** `relay`: media only through TURN (hides each party's address from the other). */
          iceTransportPolicy: z.enum(['all', 'relay']).default('all'),
          /** How long the TURN credentials handed to a page are good for (pages get fresh ones before they lapse). */
          credentialTtlMs: z.number().int().min(60000).max(86400000).default(3600000),
        })
        .default({ iceServers: [], iceTransportPolicy: 'all', credentialTtlMs: 3600000 }),
      /** The station manager API (/api/admin): off unless a token is set. */
      admin: z
        .strictObject({
          token: z.string().min(1).optional(),
          tokenFile: z.string().min(1).optional(),
        })
        .default({}),
      metrics: z
        .strictObject({
          /** Serve /metrics (Prometheus text). */
          enabled: z.boolean().default(true),
          /** Serve it on this separate (private) address instead of the main one. */
          listen: z.strictObject({ host: z.string().min(1), port: z.number().int().min(0).max(65535) }).optional(),
        })
        .default({ enabled: true }),
      /** Show recordings (mounts.<name>.record): where they go and how long they stay. */
      recordings: z
        .strictObject({
          dir: z.string().min(1).regex(/^\//, 'must be an absolute path').default('/var/lib/icewire/recordings'),
          /** Recordings older than this are deleted; 0 keeps them forever. */
          keepDays: z.number().int().min(0).max(36500).default(30),
        })
        .default({ dir: '/var/lib/icewire/recordings', keepDays: 30 }),
      log: z
        .strictObject({
          level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
        })
        .default({ level: 'info' }),
    })
    .superRefine((cfg, ctx) => {
      const seen = new Map<string, string>();
      for (const [name, m] of Object.entries(cfg.mounts)) {
        m.renditions.forEach((r, i) => {
          const other = seen.get(r.mount);
          if (other !== undefined) {
            ctx.addIssue({ code: 'custom', path: ['mounts', name, 'renditions', i, 'mount'], message: `Icecast mount ${r.mount} is already used by ${other}` });
          }
          if (other === undefined) seen.set(r.mount, `mounts.${name}.renditions.${i}`);
          if (r.charset !== undefined && r.format !== 'mp3') {
            ctx.addIssue({ code: 'custom', path: ['mounts', name, 'renditions', i, 'charset'], message: 'charset is for mp3 renditions only (Ogg and WebM titles are always UTF-8); remove it' });
          }
        });
      }
      cfg.broadcasters.forEach((b, i) => {
        if (cfg.broadcasters.findIndex((o) => o.name === b.name) !== i) {
          ctx.addIssue({ code: 'custom', path: ['broadcasters', i, 'name'], message: `broadcaster ${b.name} is listed twice` });
        }
        b.mounts.forEach((m, j) => {
          // hasOwn, not `in`: "constructor" is a valid mount name and `in` would find it on Object.prototype
          if (!Object.hasOwn(cfg.mounts, m)) {
            ctx.addIssue({ code: 'custom', path: ['broadcasters', i, 'mounts', j], message: `no station mount "${m}" under mounts` });
          }
        });
      });
      if (cfg.icecast.sourcePassword !== undefined && cfg.icecast.sourcePasswordFile !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['icecast', 'sourcePasswordFile'], message: 'set sourcePassword or sourcePasswordFile, not both' });
      }
      if (cfg.icecast.adminPassword !== undefined && cfg.icecast.adminPasswordFile !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['icecast', 'adminPasswordFile'], message: 'set adminPassword or adminPasswordFile, not both' });
      }
      cfg.webrtc.iceServers.forEach((server, i) => {
        const turn = server.urls.some((u) => u.startsWith('turn'));
        const hasSecret = server.secret !== undefined || server.secretFile !== undefined;
        if (server.secret !== undefined && server.secretFile !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['webrtc', 'iceServers', i, 'secretFile'], message: 'set secret or secretFile, not both' });
        }
        if (turn && !hasSecret) {
          ctx.addIssue({ code: 'custom', path: ['webrtc', 'iceServers', i, 'secretFile'], message: 'a TURN server needs coturn\'s static-auth-secret (secretFile or secret): icewire hands pages short-lived credentials made from it' });
        }
        if (!turn && hasSecret) {
          ctx.addIssue({ code: 'custom', path: ['webrtc', 'iceServers', i, 'secret'], message: 'a secret is for turn: and turns: servers only; STUN needs none' });
        }
        if (turn && server.urls.some((u) => u.startsWith('stun'))) {
          ctx.addIssue({ code: 'custom', path: ['webrtc', 'iceServers', i, 'urls'], message: 'list STUN and TURN URLs as separate entries (TURN ones share a secret)' });
        }
      });
      if (cfg.webrtc.iceTransportPolicy === 'relay' && !cfg.webrtc.iceServers.some((s) => s.urls.some((u) => u.startsWith('turn')))) {
        ctx.addIssue({ code: 'custom', path: ['webrtc', 'iceTransportPolicy'], message: 'relay needs a TURN server under webrtc.iceServers' });
      }
      if (cfg.auth.mode === 'accounts' && cfg.broadcasters.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['broadcasters'], message: 'auth.mode is accounts but no broadcasters are configured' });
      }
      if (cfg.auth.mode === 'passthrough' && cfg.broadcasters.length > 0) {
        ctx.addIssue({ code: 'custom', path: ['auth', 'mode'], message: 'passthrough mode does not use broadcasters; remove them or use accounts' });
      }
    });
  return { configSchema, renditionSchema, stationMountSchema, broadcasterSchema };
}
type Schemas = ReturnType<typeof configSchemas>;

/** The config as written in the file, after defaults. */
export type RawConfig = z.infer<Schemas['configSchema']>;
export type RenditionConfig = z.infer<Schemas['renditionSchema']>;
export type StationMountConfig = z.infer<Schemas['stationMountSchema']>;
export type BroadcasterConfig = z.infer<Schemas['broadcasterSchema']>;
type Zod = typeof z;
/** A resolved ICE server: the TURN secret read (from secret or secretFile), never sent to a page. */
export interface IceServerConfig {
  readonly urls: readonly string[];
  readonly secret: string | undefined;
}

export interface WebrtcConfig {
  readonly iceServers: readonly IceServerConfig[];
  readonly iceTransportPolicy: 'all' | 'relay';
  readonly credentialTtlMs: number;
}

/** The resolved config the daemon runs with: secrets read from files/env, auth mode decided, frozen. */
export interface IcecastConfig {
  readonly url: string;
  readonly publicUrl: string;
  readonly sourceUser: string;
  /** Undefined in passthrough mode when none is configured (broadcasters bring their own). */
  readonly sourcePassword: string | undefined;
  readonly adminUser: string | undefined;
  readonly adminPassword: string | undefined;
  readonly legacySource: boolean;
  readonly statsIntervalMs: number;
  readonly connectTimeoutMs: number;
  readonly reconnectGiveUpMs: number;
}

export interface Config {
  readonly listen: { readonly host: string; readonly port: number };
  /** A second address for Icecast source clients only (the main one takes them too). */
  readonly sourceListen: { readonly host: string; readonly port: number } | undefined;
  /** instanceName, or the host name when unset. */
  readonly instanceName: string;
  readonly publicUrl: string | undefined;
  readonly allowedOrigins: readonly string[];
  readonly trustProxy: boolean;
  readonly ffmpegPath: string | undefined;
  readonly icecast: IcecastConfig;
  readonly auth: { readonly mode: 'accounts' | 'passthrough' };
  readonly broadcasters: readonly Readonly<BroadcasterConfig>[];
  readonly mounts: Readonly<Record<string, Readonly<StationMountConfig>>>;
  readonly limits: Readonly<RawConfig['limits']>;
  readonly log: Readonly<RawConfig['log']>;
  /** The manager API token, resolved from admin.token / admin.tokenFile / ICEWIRE_ADMIN_TOKEN. */
  readonly admin: { readonly token: string | undefined };
  readonly metrics: Readonly<RawConfig['metrics']>;
  readonly recordings: Readonly<RawConfig['recordings']>;
  readonly guests: Readonly<RawConfig['guests']>;
  readonly webrtc: WebrtcConfig;
}
