// The video stage's clock (stage.ts), in a dedicated worker: a page's own timers and animation
// frames slow to one a second or stop while its tab is hidden, a worker's timers do not. The
// stage posts the interval in ms (0 stops); the worker posts a tick at that interval.
let timer: ReturnType<typeof setInterval> | undefined;

onmessage = (e: MessageEvent<number>): void => {
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
  const ms = Number(e.data);
  if (Number.isFinite(ms) && ms > 0) timer = setInterval(() => postMessage(0), ms);
};
