// The video stage's decisions (www/src/stage.ts): where a camera goes on the fixed-size stage,
// which picture a tick shows, and when a frame goes out. The drawing itself is proven in the
// browser (test/browser/studio-video.test.ts) on what a viewer decoded.
import assert from 'node:assert/strict';
import { MIN_FRAME_GAP_MS, STAGE_HEIGHT, STAGE_WIDTH, containRect, shouldSendFrame, stagePicture } from '../../www/src/stage.js';

describe('video stage', () => {
  describe('containRect', () => {
    it('a 16:9 camera fills the 16:9 stage', () => {
      assert.deepEqual(containRect(1920, 1080, STAGE_WIDTH, STAGE_HEIGHT), { x: 0, y: 0, width: 1280, height: 720 });
      assert.deepEqual(containRect(640, 360, STAGE_WIDTH, STAGE_HEIGHT), { x: 0, y: 0, width: 1280, height: 720 });
    });
    it('a 4:3 camera is pillarboxed, centred', () => {
      assert.deepEqual(containRect(640, 480, 1280, 720), { x: 160, y: 0, width: 960, height: 720 });
    });
    it('a portrait phone camera is as tall as the stage, centred', () => {
      assert.deepEqual(containRect(720, 1280, 1280, 720), { x: 437, y: 0, width: 405, height: 720 });
    });
    it('a camera that reports no size yet: the whole stage', () => {
      assert.deepEqual(containRect(0, 0, 1280, 720), { x: 0, y: 0, width: 1280, height: 720 });
    });
  });

  describe('stagePicture', () => {
    const base = { videoOn: true, cameraLive: true, cameraReady: true, switching: false, drewCamera: true };
    it('the camera when it has a frame', () => {
      assert.equal(stagePicture(base), 'camera');
    });
    it('the slate whenever the picture is off, camera or not', () => {
      assert.equal(stagePicture({ ...base, videoOn: false }), 'slate');
      assert.equal(stagePicture({ ...base, videoOn: false, cameraLive: false }), 'slate');
    });
    it('a camera switch holds the last picture rather than flash the slate', () => {
      assert.equal(stagePicture({ ...base, cameraLive: false, cameraReady: false, switching: true }), 'hold');
      // the new camera is attached but has no frame yet
      assert.equal(stagePicture({ ...base, cameraReady: false }), 'hold');
    });
    it('the slate when there never was a camera picture to hold', () => {
      assert.equal(stagePicture({ ...base, cameraReady: false, drewCamera: false }), 'slate');
      assert.equal(stagePicture({ ...base, cameraLive: false, cameraReady: false, switching: true, drewCamera: false }), 'slate');
    });
    it('the slate when the camera is gone (unplugged) and no switch is under way', () => {
      assert.equal(stagePicture({ ...base, cameraLive: false, cameraReady: true }), 'slate');
    });
  });

  describe('shouldSendFrame', () => {
    it('sends a frame when the canvas changed', () => {
      assert.equal(shouldSendFrame(true, 1000, 990), true);
    });
    it('an unchanged picture still goes out every MIN_FRAME_GAP_MS (key frames, interleaving)', () => {
      assert.equal(shouldSendFrame(false, 1000, 1000 - MIN_FRAME_GAP_MS + 1), false);
      assert.equal(shouldSendFrame(false, 1000, 1000 - MIN_FRAME_GAP_MS), true);
      assert.equal(shouldSendFrame(false, 0, -Infinity), true);
    });
  });
});
