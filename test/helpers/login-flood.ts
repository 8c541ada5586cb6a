// Login guesses by the hundred, on bare sockets: POST /api/login and WebSocket hellos. floodLogins()
// runs them in a child process of their own, so the test's event loop (which times a legitimate
// login and the canary listener's gaps meanwhile) is not the one busy with 800 sockets.
import { fork } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { RawWebSocket, textFrame } from './raw-websocket.js';

/** An HTTP answer as "<status> <IW_ERR code>" (or "no answer"). */
export function httpAnswer(text: string): string {
  const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 'no answer';
  const code = /"code":"(IW_ERR_[A-Z_]+)"/.exec(text)?.[1];
  return code !== undefined ? `${status} ${code}` : status;
}

/** POST a JSON body on a bare socket (hundreds at once cost little); resolves with httpAnswer(). */
export function rawPost(port: number, path: string, body: unknown, addr: string): Promise<string> {
  const json = JSON.stringify(body);
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    s.on('data', (d) => { text += d.toString(); });
    s.on('error', () => undefined);
    s.on('close', () => resolve(httpAnswer(text)));
    s.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\nX-Forwarded-For: ${addr}\r\nConnection: close\r\n\r\n${json}`);
  });
}

export interface FloodPlan {
  readonly port: number;
  /** The client addresses (X-Forwarded-For; the daemon must trust its loopback proxy). */
  readonly addrs: readonly string[];
  /** Guesses per address. */
  readonly perAddress: number;
  /** Of those, how many are WebSocket hellos (the rest are POST /api/login). */
  readonly wsPerAddress: number;
  /** The WebSocket path (a station mount). */
  readonly wsPath: string;
}

/** Each guess's answer: `<addr> <IW_ERR code, or close code / HTTP status when none>`. */
async function flood(plan: FloodPlan, sent: () => void): Promise<string[]> {
  const answers: string[] = [];
  const guesses: Promise<void>[] = [];
  let n = 0;
  for (const addr of plan.addrs) {
    for (let i = 0; i < plan.wsPerAddress; i++) {
      const hi = textFrame(JSON.stringify({ type: 'hello', data: { mime: 'audio/webm;codecs=opus', user: `admin${n}`, password: `guess-${n++}` } }));
      const ws = new RawWebSocket(plan.port, plan.wsPath, { headers: { 'X-Forwarded-For': addr }, first: [hi], answerClose: true });
      guesses.push(ws.ended.then((o) => { answers.push(`${addr} ${o.errorCode ?? o.code}`); }));
    }
    for (let i = plan.wsPerAddress; i < plan.perAddress; i++) {
      guesses.push(rawPost(plan.port, '/api/login', { user: `admin${n}`, password: `guess-${n++}` }, addr).then((a) => { answers.push(`${addr} ${a.split(' ')[1] ?? a}`); }));
    }
  }
  sent();
  await Promise.all(guesses);
  return answers;
}

/**
 * Run a flood in a child process. `onSent` fires once every guess is on its way; resolves with
 * every guess's answer.
 */
export function floodLogins(plan: FloodPlan, onSent: () => void): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [JSON.stringify(plan)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.on('message', (m: { sent?: true; answers?: string[] }) => {
      if (m.sent === true) onSent();
      if (m.answers !== undefined) resolve(m.answers);
    });
    child.on('error', reject);
    child.on('exit', (code) => { if (code !== 0) reject(new Error(`the flood process exited with ${code}`)); });
  });
}

// As a child process: the plan in argv, the answers back over IPC.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) {
  const plan = JSON.parse(process.argv[2]!) as FloodPlan;
  const answers = await flood(plan, () => process.send!({ sent: true }));
  process.send({ answers }, () => process.exit(0));
}
