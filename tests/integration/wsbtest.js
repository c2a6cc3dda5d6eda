// wsbtest.js: the node side of the integration harness (wsbtest.py is the python one): TAP
// points, a time limit, wsbridge on 127.0.0.1 with --port=0, and promise helpers for ws.
const { spawn } = require('child_process');
const WebSocket = require('ws');

let n = 0, failed = 0;
function ok(cond, name, got, want) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? 'ok' : 'not ok'} ${n} - ${name}`);
  if (!cond) console.log(`#   got:  ${JSON.stringify(got)}\n#   want: ${JSON.stringify(want)}`);
}
function finish() { console.log(`1..${n}`); process.exit(failed ? 1 : 0); }
// The test fails (and ends) when it has not finished within ms.
function timeLimit(ms) { setTimeout(() => { ok(false, 'timed out'); finish(); }, ms).unref(); }

// wsbridge with args on a port of the kernel's choice; resolves with the process (.port set).
function server(args) {
  return new Promise((resolve, reject) => {
    const srv = spawn(process.env.WSBRIDGE, ['--address=127.0.0.1', '--port=0', '--workers=1', ...args],
                      { stdio: ['ignore', 'ignore', 'pipe'] });
    srv.log = '';
    srv.stderr.on('data', (d) => {
      srv.log += d;
      const m = srv.log.match(/listening on ws:\/\/127\.0\.0\.1:(\d+)\//);
      if (m && !srv.port) { srv.port = Number(m[1]); resolve(srv); }
    });
    srv.on('exit', () => { if (!srv.port) reject(new Error(srv.log)); });
  });
}

// SIGTERM; resolves with the exit code.
function stop(srv) {
  return new Promise((resolve) => { srv.on('exit', (code) => resolve(code)); srv.kill('SIGTERM'); });
}

// A client on port (pmd: node ws's perMessageDeflate option), no message size limit.
function open(port, pmd) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: pmd, maxPayload: 0 });
    ws.binaryType = 'nodebuffer';
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

// Closes with 1000; resolves with the code the server answered.
function close(ws) {
  return new Promise((resolve) => { ws.once('close', (code) => resolve(code)); ws.close(1000); });
}

module.exports = { ok, finish, timeLimit, server, stop, open, close };
