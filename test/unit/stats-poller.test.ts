// parseStatusJson: Icecast 2.4.4's /status-json.xsl, whose `icestats.source` is an object for one
// mount, an array for several, absent for none — and sometimes not JSON at all (docs/notes/icecast.md).
import assert from 'node:assert/strict';
import { parseStatusJson, type MountStats } from '../../server/icecast/stats-poller.js';

function source(mount: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    audio_info: 'samplerate=48000', genre: 'various', listener_peak: 1, listeners: 0,
    listenurl: `http://localhost:8000${mount}`, server_name: 'Test', server_type: 'audio/ogg',
    stream_start: 'Mon, 01 Jan 2024 00:00:00 +0000', ...extra,
  };
}

function icestats(src?: unknown): string {
  const stats: Record<string, unknown> = {
    admin: 'icemaster@localhost', host: 'localhost', location: 'Earth', server_id: 'Icecast 2.4.4',
    server_start: 'Mon, 01 Jan 2024 00:00:00 +0000', server_start_iso8601: '2024-01-01T00:00:00+0000',
  };
  if (src !== undefined) stats.source = src;
  return JSON.stringify({ icestats: stats });
}

const ROWS: { what: string; text: string; want: [string, MountStats][] }[] = [
  {
    what: 'one source (an object)',
    text: icestats(source('/live.ogg', { listeners: 3, title: 'Artist - Song' })),
    want: [['/live.ogg', { listeners: 3, title: 'Artist - Song' }]],
  },
  {
    what: 'several sources (an array)',
    text: icestats([source('/live.ogg', { listeners: 2 }), source('/live.mp3', { listeners: 5 }), source('/video.webm')]),
    want: [['/live.ogg', { listeners: 2, title: undefined }], ['/live.mp3', { listeners: 5, title: undefined }], ['/video.webm', { listeners: 0, title: undefined }]],
  },
  { what: 'no sources (no `source` key)', text: icestats(), want: [] },
  { what: 'an empty source array', text: icestats([]), want: [] },
  { what: 'source: null', text: icestats(null), want: [] },
  { what: "Icecast 2.4.4's invalid JSON with no source", text: '{"icestats":{"admin":"x","source":}}', want: [] },
  { what: 'a truncated document', text: '{"icestats":{"source":{"listenurl":"http://h/a"', want: [] },
  { what: 'an empty body', text: '', want: [] },
  { what: 'an HTML error page', text: '<html><body>404 Not Found</body></html>', want: [] },
  { what: 'JSON null', text: 'null', want: [] },
  { what: 'a JSON string', text: '"icestats"', want: [] },
  { what: 'no icestats key', text: '{"other":{}}', want: [] },
  { what: 'icestats: null', text: '{"icestats":null}', want: [] },
  {
    what: 'missing listeners count -> 0',
    text: icestats({ listenurl: 'http://localhost:8000/a.ogg' }),
    want: [['/a.ogg', { listeners: 0, title: undefined }]],
  },
  {
    what: 'a non-number listeners count -> 0',
    text: icestats(source('/a.ogg', { listeners: '7' })),
    want: [['/a.ogg', { listeners: 0, title: undefined }]],
  },
  {
    what: 'a non-string title is ignored',
    text: icestats(source('/a.ogg', { listeners: 1, title: 42 })),
    want: [['/a.ogg', { listeners: 1, title: undefined }]],
  },
  {
    what: 'a listenurl with another host and port: only the path counts',
    text: icestats(source('/x', { listenurl: 'https://stream.example.org:8443/radio/live.ogg', listeners: 4 })),
    want: [['/radio/live.ogg', { listeners: 4, title: undefined }]],
  },
  {
    what: 'non-object entries in the array are skipped',
    text: icestats([null, 7, 'text', true, [source('/nested.ogg')], source('/kept.ogg', { listeners: 1 })]),
    want: [['/kept.ogg', { listeners: 1, title: undefined }]],
  },
  {
    what: 'entries without a string listenurl are skipped',
    text: icestats([{ listeners: 9 }, { listenurl: 17, listeners: 9 }, source('/kept.ogg')]),
    want: [['/kept.ogg', { listeners: 0, title: undefined }]],
  },
  {
    what: 'an unparseable listenurl is skipped',
    text: icestats([source('/x', { listenurl: 'not a url' }), source('/kept.ogg', { listeners: 2 })]),
    want: [['/kept.ogg', { listeners: 2, title: undefined }]],
  },
  { what: 'a scalar source', text: icestats('oops'), want: [] },
];

describe('parseStatusJson', () => {
  for (const r of ROWS) {
    it(`${r.what}`, () => {
      const got = parseStatusJson(r.text);
      assert.ok(got instanceof Map);
      assert.deepEqual([...got.entries()], r.want);
    });
  }
});
