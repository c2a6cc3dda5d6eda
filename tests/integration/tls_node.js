// wss:// with node's ws: echo through cat, text and binary, with a CA-checked server
// certificate and a client certificate (--sslca); a client without one is refused.
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const WebSocket = require('ws');

const { ok, finish, timeLimit } = require('./wsbtest.js');

timeLimit(process.env.WSB_SANITIZED ? 180000 : 60000);

// certificates, made with the openssl CLI in the scratch directory
const logDir = fs.existsSync(path.join('tests', 'integration')) ? path.join('tests', 'integration') : '.';
const dir = path.resolve(logDir, 'tls_node.tmp');
fs.mkdirSync(dir, { recursive: true });
const f = (name) => path.join(dir, name);
const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=wsb node CA',
        '-keyout', f('ca_key.pem'), '-out', f('ca.pem'));
for (const [name, cn, ext] of [['server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
                               ['client', 'node-client', 'extendedKeyUsage=clientAuth']]) {
  fs.writeFileSync(f(name + '.ext'), ext + '\n');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=' + cn, '-keyout', f(name + '_key.pem'),
          '-out', f(name + '.csr'));
  openssl('x509', '-req', '-in', f(name + '.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca_key.pem'),
          '-CAcreateserial', '-days', '2', '-extfile', f(name + '.ext'), '-out', f(name + '.pem'));
}

const srv = spawn(process.env.WSBRIDGE, ['--address=127.0.0.1', '--port=0', '--workers=1', '--binary', '--ssl',
                                         `--sslcert=${f('server.pem')}`, `--sslkey=${f('server_key.pem')}`,
                                         `--sslca=${f('ca.pem')}`, 'cat'],
                  { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
srv.stderr.on('data', (d) => {
  log += d;
  const m = log.match(/listening on wss:\/\/127\.0\.0\.1:(\d+)\//);
  if (m && !srv.started) { srv.started = true; run(Number(m[1])); }
});

function run(port) {
  const ca = fs.readFileSync(f('ca.pem'));
  const ws = new WebSocket(`wss://localhost:${port}/`, {
    ca, cert: fs.readFileSync(f('client.pem')), key: fs.readFileSync(f('client_key.pem')),
  });
  const sent = [];
  let received = Buffer.alloc(0);
  ws.on('open', () => {
    ok(ws._socket.getProtocol() === 'TLSv1.3', 'TLS 1.3', ws._socket.getProtocol());
    for (let i = 0; i < 50; i++) {
      const b = Buffer.alloc(20000 + i, i);
      sent.push(b);
      ws.send(b);
    }
  });
  ws.on('message', (data) => {
    received = Buffer.concat([received, data]);
    if (received.length === sent.reduce((a, b) => a + b.length, 0)) {
      ok(received.equals(Buffer.concat(sent)), '50 binary messages (1 MB) come back byte for byte over wss://');
      ws.close(1000);
    }
  });
  ws.on('close', (code) => {
    ok(code === 1000, 'close code 1000', code, 1000);
    // without a client certificate: refused by the server
    const bad = new WebSocket(`wss://localhost:${port}/`, { ca });
    bad.on('error', () => {});
    bad.on('close', (c) => {
      ok(c === 1006, 'no client certificate: the connection fails (1006)', c, 1006);
      // the server's stderr may arrive after the client's close event: wait for it, bounded
      const refused = /TLS handshake with 127\.0\.0\.1:\d+ failed/;
      const t0 = Date.now();
      const check = () => {
        if (!refused.test(log) && Date.now() - t0 < 10000) return setTimeout(check, 20);
        ok(refused.test(log), 'the refusal is logged');
        ok((log.match(/ 101 /g) || []).length === 1, 'only the first client had a session');
        srv.on('close', (code) => { // 'close': after the last of its stderr
          ok(code === 0, 'server exits 0 on SIGTERM', code, 0);
          if (process.env.WSB_SANITIZED)
            ok(!/AddressSanitizer|LeakSanitizer|runtime error:/.test(log), 'no sanitizer report');
          finish();
        });
        srv.kill('SIGTERM');
      };
      check();
    });
  });
  ws.on('error', (e) => { ok(false, `no client error (${e.message})`); finish(); });
}
