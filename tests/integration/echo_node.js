// Echo through cat with node's ws as the client: text and binary, in order.
const { spawn } = require('child_process');
const WebSocket = require('ws');

const { ok, finish, timeLimit } = require('./wsbtest.js');

timeLimit(60000);

const srv = spawn(process.env.WSBRIDGE, ['--address=127.0.0.1', '--port=0', '--binary', 'cat'],
                  { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
srv.stderr.on('data', (d) => {
  log += d;
  const m = log.match(/listening on ws:\/\/127\.0\.0\.1:(\d+)\//);
  if (m && !srv.started) { srv.started = true; run(Number(m[1])); }
});

function run(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const sent = [];
  let received = Buffer.alloc(0);
  ws.on('open', () => {
    for (let i = 0; i < 100; i++) {
      const b = Buffer.alloc(1000 + i, i);
      sent.push(b);
      ws.send(b);
    }
  });
  ws.on('message', (data, isBinary) => {
    if (!isBinary) ok(false, 'binary mode sends binary messages');
    received = Buffer.concat([received, data]);
    if (received.length === sent.reduce((a, b) => a + b.length, 0)) {
      ok(received.equals(Buffer.concat(sent)), '100 binary messages come back byte for byte, in order');
      ws.close(1000);
    }
  });
  ws.on('close', (code) => {
    ok(code === 1000, 'close code 1000', code, 1000);
    srv.on('exit', (code) => { ok(code === 0, 'server exits 0 on SIGTERM', code, 0); finish(); });
    srv.kill('SIGTERM');
  });
  ws.on('error', (e) => { ok(false, `no client error (${e.message})`); finish(); });
}
