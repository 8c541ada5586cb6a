// What we ask getUserMedia and MediaRecorder for, and how we check what we got. Pure functions.

export type Preset = 'music' | 'voice';

/**
 * Recording formats in order of preference (docs/protocol.md lists what the daemon accepts). MP4
 * comes last: Safari records only that (AAC, which the daemon must transcode), so it is used only
 * where WebM and Ogg are not available.
 */
export const AUDIO_MIMES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4'] as const;
export const VIDEO_MIMES = ['video/webm;codecs=vp8,opus', 'video/webm;codecs=vp9,opus', 'video/mp4'] as const;

export const AUDIO_BITS_PER_SECOND = 128_000;
export const VIDEO_BITS_PER_SECOND = 1_500_000;
/** How often MediaRecorder hands us a chunk. */
export const TIMESLICE_MS = 250;

export function chooseMime(video: boolean, isTypeSupported: (mime: string) => boolean): string | undefined {
  return (video ? VIDEO_MIMES : AUDIO_MIMES).find((m) => {
    try {
      return isTypeSupported(m);
    } catch {
      return false; // very old implementations throw on unknown types
    }
  });
}

/** Bytes per second the recorder produces, to judge how far behind the upload is. */
export function streamBytesPerSecond(video: boolean): number {
  return ((video ? VIDEO_BITS_PER_SECOND : 0) + AUDIO_BITS_PER_SECOND) / 8;
}

interface AudioWish {
  echoCancellation: boolean;
  noiseSuppression: boolean;
  autoGainControl: boolean;
  /** Channels wanted; undefined = whatever the device gives. */
  channelCount: number | undefined;
}

export function presetWish(preset: Preset): AudioWish {
  return preset === 'music'
    ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 2 }
    : { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: undefined };
}

export function buildConstraints(o: {
  preset: Preset;
  micId: string | undefined;
  video: boolean;
  cameraId: string | undefined;
}): MediaStreamConstraints {
  const wish = presetWish(o.preset);
  const audio: MediaTrackConstraints = {
    echoCancellation: wish.echoCancellation,
    noiseSuppression: wish.noiseSuppression,
    autoGainControl: wish.autoGainControl,
    sampleRate: { ideal: 48000 },
  };
  if (wish.channelCount !== undefined) audio.channelCount = { ideal: wish.channelCount };
  if (o.micId) audio.deviceId = { exact: o.micId };
  let video: MediaTrackConstraints | false = false;
  if (o.video) {
    video = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
    if (o.cameraId) video.deviceId = { exact: o.cameraId };
  }
  return { audio, video };
}

const FEATURE_NAMES: Record<'echoCancellation' | 'noiseSuppression' | 'autoGainControl', string> = {
  echoCancellation: 'echo cancellation',
  noiseSuppression: 'noise suppression',
  autoGainControl: 'automatic gain',
};

/**
 * Compare what the preset asked for with the track's settings. Returns one warning sentence per
 * constraint the browser did not honour (a setting the browser does not report is not judged).
 */
export function settingsWarnings(preset: Preset, s: MediaTrackSettings): string[] {
  const wish = presetWish(preset);
  const out: string[] = [];
  for (const key of ['echoCancellation', 'noiseSuppression', 'autoGainControl'] as const) {
    const got = s[key];
    if (typeof got === 'boolean' && got !== wish[key]) {
      out.push(
        `The browser kept ${FEATURE_NAMES[key]} ${got ? 'on' : 'off'} although the ${preset === 'music' ? 'Music' : 'Voice'} preset asked for it ${wish[key] ? 'on' : 'off'}.`,
      );
    }
  }
  if (wish.channelCount !== undefined && typeof s.channelCount === 'number' && s.channelCount < wish.channelCount) {
    out.push('This input delivers mono, so the broadcast will be mono (the Music preset asked for stereo).');
  }
  return out;
}

/** A short human summary of the audio track's settings, e.g. "48 kHz · stereo · processing off". */
export function describeAudioSettings(s: MediaTrackSettings): string {
  const parts: string[] = [];
  if (typeof s.sampleRate === 'number') parts.push(`${Math.round(s.sampleRate / 100) / 10} kHz`);
  if (typeof s.channelCount === 'number') parts.push(s.channelCount >= 2 ? 'stereo' : 'mono');
  const on = (['echoCancellation', 'noiseSuppression', 'autoGainControl'] as const).filter((k) => s[k] === true);
  const known = (['echoCancellation', 'noiseSuppression', 'autoGainControl'] as const).filter((k) => typeof s[k] === 'boolean');
  if (known.length > 0) {
    parts.push(on.length === 0 ? 'no voice processing' : on.map((k) => FEATURE_NAMES[k]).join(', ') + ' on');
  }
  return parts.join(' · ');
}

export function describeVideoSettings(s: MediaTrackSettings): string {
  const parts: string[] = [];
  if (typeof s.width === 'number' && typeof s.height === 'number') parts.push(`${s.width}×${s.height}`);
  if (typeof s.frameRate === 'number') parts.push(`${Math.round(s.frameRate)} fps`);
  return parts.join(' · ');
}
