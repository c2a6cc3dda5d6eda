// --shared --framing=json|length with node's ws as the clients, half of them with
// permessage-deflate (hubz: json shared, length per client): every client sends text with
// newlines, binary, empty and 256 KiB messages at once; `cat` echoes them to all; every client
// gets every message whole, of its type, in the same order, each sender's in its order.
const crypto = require('crypto');
const { ok, finish, timeLimit, server, stop, open, close } = require('./wsbtest.js');

timeLimit(600000);
const N = 8;

function sentBy(i) {
  return [`c${i} line 1\nline 2 é😀 "q" \\ \0`, Buffer.from(`\x00\n\xffc${i}`, 'latin1'), '', Buffer.alloc(0),
    i % 2 ? crypto.randomBytes(256 << 10) : `c${i} ` + 'é\n'.repeat(85000)];
}

const key = (m) => (typeof m === 'string' ? 's:' + m : 'b:' + m.toString('hex'));

// Resolves with the first n messages of ws, strings for text, Buffers for binary.
function collect(ws, n) {
  return new Promise((resolve) => {
    const got = [];
    ws.on('message', (data, isBinary) => {
      got.push(isBinary ? data : data.toString());
      if (got.length === n) resolve(got);
    });
  });
}

async function main() {
  // json: compressed once for the alike clients (a shared mirror); length: with context
  // takeover, compressed per client, each message's type from its frames (hubz_send_each)
  for (const [mode, pmd] of [['json', []], ['length', ['--deflate-params=server_context_takeover']]]) {
    const srv = await server(['--shared', `--framing=${mode}`, '--slow-client-queue=67108864', ...pmd, 'cat']);
    const clients = [];
    for (let i = 0; i < N; i++) clients.push(await open(srv.port, i % 2 === 0));
    const sent = clients.map((_, i) => sentBy(i));
    const total = sent.reduce((a, s) => a + s.length, 0);
    const waits = clients.map((ws) => collect(ws, total));
    clients.forEach((ws, i) => sent[i].forEach((m) => ws.send(m)));
    const got = await Promise.all(waits);
    const all = sent.flat().map(key).sort();
    ok(JSON.stringify(got[0].map(key).sort()) === JSON.stringify(all),
       `${mode}: ${N} node clients: every message reaches the program whole and comes back, of its type`);
    const order = JSON.stringify(got[0].map(key));
    ok(got.every((g) => JSON.stringify(g.map(key)) === order),
       `${mode}: every client (with and without deflate) gets them in the same order`);
    const own = (i) => sent[i].filter((m) => m.length > 0).map(key);
    ok(clients.every((_, i) => JSON.stringify(got[0].map(key).filter((k) => own(i).includes(k))) ===
                                 JSON.stringify(own(i))),
       `${mode}: each client's messages stay in the order it sent them`);
    const codes = await Promise.all(clients.map(close));
    ok(codes.every((c) => c === 1000), `${mode}: every client closed with 1000`, codes);
    ok(await stop(srv) === 0, `${mode}: server exits 0`);
  }
  finish();
}

main().catch((e) => { ok(false, `no error (${e.stack})`); finish(); });
