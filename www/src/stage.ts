// The video stage: what a video show's viewers see. The chosen camera is drawn into a canvas of a
// fixed size, and the canvas's captured track (with the mixer's master audio) is what the one
// MediaRecorder records. So the camera can be switched, or the picture turned off and on, while on
// air without touching the recording: a new camera is only a new source for the <video> element
// the stage draws from, and "video off" draws a slate (the station's name, "Video paused") at the
// same size. A new recording would start a new WebM header, which viewers' players cannot follow.
//
// Frames: the stage ticks at STAGE_FPS from a worker clock (stage-clock.ts), which keeps ticking in
// a hidden tab. A tick draws when the camera has a new frame (requestVideoFrameCallback; every
// tick where the browser lacks it or the tab is hidden), and sends a frame at least every
// MIN_FRAME_GAP_MS even when nothing changed (a slate, a held picture): the recorder's key frames
// and the muxer's interleaving of sound and picture need frames to keep coming.

/** The stage's size: viewers get this whatever the camera delivers (16:9; others are letterboxed). */
export const STAGE_WIDTH = 1280;
export const STAGE_HEIGHT = 720;
/** Frames per second at most. */
export const STAGE_FPS = 30;
/** A frame goes out at least this often, even when the picture did not change. */
export const MIN_FRAME_GAP_MS = 200;
/** The slate's background: a deep blue no test camera shows (the tests tell it apart by colour). */
export const SLATE_BACKGROUND = '#1d3a8a';

export interface Rect { x: number; y: number; width: number; height: number }

/** Where a source of srcW×srcH goes in a dstW×dstH stage: as large as fits, centred (letterbox). */
export function containRect(srcW: number, srcH: number, dstW: number, dstH: number): Rect {
  if (!(srcW > 0 && srcH > 0)) return { x: 0, y: 0, width: dstW, height: dstH };
  const scale = Math.min(dstW / srcW, dstH / srcH);
  const width = Math.round(srcW * scale);
  const height = Math.round(srcH * scale);
  return { x: Math.floor((dstW - width) / 2), y: Math.floor((dstH - height) / 2), width, height };
}

export type StagePicture = 'camera' | 'hold' | 'slate';

/**
 * What one tick shows. `videoOn`: the host's picture switch. `cameraLive`: a camera track is
 * attached and not ended. `cameraReady`: its element has a frame to draw. `switching`: the host is
 * changing cameras (the last picture is held rather than flashing the slate). `drewCamera`: a camera
 * frame has been drawn since the picture was last switched on.
 */
export function stagePicture(s: { videoOn: boolean; cameraLive: boolean; cameraReady: boolean; switching: boolean; drewCamera: boolean }): StagePicture {
  if (!s.videoOn) return 'slate';
  if (s.cameraLive && s.cameraReady) return 'camera';
  if ((s.cameraLive || s.switching) && s.drewCamera) return 'hold';
  return 'slate';
}

/** Whether a tick sends a frame: when the canvas changed, or when the last one is getting old. */
export function shouldSendFrame(changed: boolean, nowMs: number, lastSentMs: number): boolean {
  return changed || nowMs - lastSentMs >= MIN_FRAME_GAP_MS;
}

export interface StageOptions {
  /** The station's name for the slate (read at each slate drawing). */
  stationName: () => string;
  /** The worker clock's URL (default /js/stage-clock.js). */
  clockUrl?: string;
  /** Called when what viewers see changes (camera, held picture, slate). */
  onPicture?: (p: StagePicture) => void;
}

type CanvasTrack = MediaStreamTrack & { requestFrame?: () => void };
type VideoWithFrameCallback = HTMLVideoElement & { requestVideoFrameCallback?: (cb: () => void) => number };

export class VideoStage {
  readonly canvas: HTMLCanvasElement;
  /** The recorded picture: one video track for the whole show. */
  readonly stream: MediaStream;
  private readonly g: CanvasRenderingContext2D;
  private readonly video: VideoWithFrameCallback;
  private readonly track: CanvasTrack;
  private camera: MediaStreamTrack | undefined;
  private on = true;
  private switching = false;
  private drewCamera = false;
  private newCameraFrame = true;
  private lastSent = -Infinity;
  private lastPicture: StagePicture | undefined;
  private slateKey = '';
  private clock: Worker | undefined;
  private fallbackTimer: number | undefined;
  private running = false;
  private watching = false;
  /** Frames sent, and which picture the last tick showed (for the page's data- attributes and tests). */
  framesSent = 0;

  constructor(private readonly opts: StageOptions) {
    this.canvas = document.createElement('canvas');
    this.canvas.width = STAGE_WIDTH;
    this.canvas.height = STAGE_HEIGHT;
    const g = this.canvas.getContext('2d', { alpha: false });
    if (g === null) throw new Error('this browser cannot draw the video stage (no 2D canvas)');
    this.g = g;
    this.video = document.createElement('video');
    this.video.muted = true;
    this.video.playsInline = true;
    this.video.autoplay = true;
    // captureStream(0): a frame only when the stage asks (requestFrame), so the rate is the stage's.
    this.stream = this.canvas.captureStream(0);
    this.track = this.stream.getVideoTracks()[0] as CanvasTrack;
    this.drawSlate();
    this.watchFrames();
  }

  get videoOn(): boolean {
    return this.on;
  }

  /** What the last tick showed. */
  get picture(): StagePicture | undefined {
    return this.lastPicture;
  }

  /** Start ticking (idempotent). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const every = Math.round(1000 / STAGE_FPS);
    try {
      this.clock = new Worker(this.opts.clockUrl ?? '/js/stage-clock.js', { type: 'module' });
      this.clock.onmessage = () => this.tick();
      this.clock.onerror = () => this.useFallbackClock(every);
      this.clock.postMessage(every);
    } catch {
      this.useFallbackClock(every);
    }
  }

  /** Stop ticking and let go of the camera element (the camera's tracks are the page's to stop). */
  stop(): void {
    this.running = false;
    this.clock?.postMessage(0);
    this.clock?.terminate();
    this.clock = undefined;
    if (this.fallbackTimer !== undefined) window.clearInterval(this.fallbackTimer);
    this.fallbackTimer = undefined;
    this.video.srcObject = null;
    this.camera = undefined;
    this.track.stop();
  }

  /**
   * The camera to show (undefined: none). `hold`: a camera switch is under way, so keep the last
   * picture until the next camera (or a slate if there was none) rather than flash the slate.
   */
  setCamera(track: MediaStreamTrack | undefined, opts: { hold?: boolean } = {}): void {
    this.camera = track;
    this.switching = track === undefined && (opts.hold ?? false);
    this.newCameraFrame = true;
    this.video.srcObject = track !== undefined ? new MediaStream([track]) : null;
    if (track !== undefined) void this.video.play().catch(() => undefined);
    this.tick();
  }

  /** The host's picture switch: off draws the slate at once; on shows the camera once it has a frame. */
  setVideoOn(on: boolean): void {
    if (on === this.on) return;
    this.on = on;
    if (!on) this.drewCamera = false;
    this.tick();
  }

  private useFallbackClock(every: number): void {
    this.clock?.terminate();
    this.clock = undefined;
    if (this.running && this.fallbackTimer === undefined) this.fallbackTimer = window.setInterval(() => this.tick(), every);
  }

  /** One callback chain for the stage's life: it marks each new camera frame, whichever camera. */
  private watchFrames(): void {
    const v = this.video;
    if (this.watching || typeof v.requestVideoFrameCallback !== 'function') return;
    this.watching = true;
    const onFrame = (): void => {
      this.newCameraFrame = true;
      v.requestVideoFrameCallback!(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
  }

  private tick(): void {
    if (this.track.readyState === 'ended') return;
    const cam = this.camera;
    const picture = stagePicture({
      videoOn: this.on,
      cameraLive: cam !== undefined && cam.readyState === 'live',
      cameraReady: this.video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA && this.video.videoWidth > 0,
      switching: this.switching,
      drewCamera: this.drewCamera,
    });
    let changed = false;
    if (picture === 'camera') {
      // Where frames can't be watched (or a hidden tab stops watching them), draw on every tick.
      const fresh = this.newCameraFrame || document.hidden || typeof this.video.requestVideoFrameCallback !== 'function';
      if (fresh || this.lastPicture !== 'camera') {
        this.drawCamera();
        this.newCameraFrame = false;
        this.drewCamera = true;
        this.switching = false;
        changed = true;
      }
    } else if (picture === 'slate') {
      changed = this.drawSlate();
    }
    if (picture !== this.lastPicture) this.opts.onPicture?.(picture);
    this.lastPicture = picture;
    const now = performance.now();
    if (shouldSendFrame(changed, now, this.lastSent)) {
      // Chromium captures a canvas only when something was drawn since its last frame: an
      // unchanged picture is touched (one pixel put back as it was) so the frame goes out.
      if (!changed) this.g.putImageData(this.g.getImageData(0, 0, 1, 1), 0, 0);
      this.track.requestFrame?.();
      this.lastSent = now;
      this.framesSent++;
    }
  }

  private drawCamera(): void {
    const v = this.video;
    const r = containRect(v.videoWidth, v.videoHeight, STAGE_WIDTH, STAGE_HEIGHT);
    if (r.width < STAGE_WIDTH || r.height < STAGE_HEIGHT) {
      this.g.fillStyle = '#000';
      this.g.fillRect(0, 0, STAGE_WIDTH, STAGE_HEIGHT);
    }
    this.g.drawImage(v, r.x, r.y, r.width, r.height);
    this.slateKey = '';
  }

  /** Draw the slate if it is not what the canvas shows already; true when it drew. */
  private drawSlate(): boolean {
    const name = this.opts.stationName().trim() || 'On air';
    const key = `${name}|${this.on ? 'waiting' : 'paused'}`;
    if (key === this.slateKey) return false;
    this.slateKey = key;
    const g = this.g;
    g.fillStyle = SLATE_BACKGROUND;
    g.fillRect(0, 0, STAGE_WIDTH, STAGE_HEIGHT);
    g.fillStyle = '#ffffff';
    g.textAlign = 'center';
    g.textBaseline = 'middle';
    g.font = `600 ${Math.round(STAGE_HEIGHT / 9)}px system-ui, sans-serif`;
    g.fillText(name, STAGE_WIDTH / 2, STAGE_HEIGHT * 0.42, STAGE_WIDTH * 0.9);
    g.fillStyle = '#c9d6ff';
    g.font = `${Math.round(STAGE_HEIGHT / 18)}px system-ui, sans-serif`;
    g.fillText(this.on ? 'Waiting for the camera…' : 'Video paused · the sound goes on', STAGE_WIDTH / 2, STAGE_HEIGHT * 0.6, STAGE_WIDTH * 0.9);
    return true;
  }
}
