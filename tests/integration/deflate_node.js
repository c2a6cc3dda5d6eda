// permessage-deflate with node's ws as the client: every perMessageDeflate offer it can make
// (server/client no context takeover, server_max_window_bits 8-15, client_max_window_bits
// absent/true/8-15) is agreed and echoes exactly; binary 0 B..16 MiB through `--binary cat` and
// text lines through cat come back byte-exact.
const { ok, finish, timeLimit, server, stop, open, close } = require('./wsbtest.js');

timeLimit(300000);

// Sends each payload, collects what comes back until as many bytes (binary: chunks) or lines.
function echo(ws, payloads, binary) {
  return new Promise((resolve) => {
    const want = binary ? payloads.reduce((a, b) => a + b.length, 0) : payloads.length;
    const got = [];
    let bytes = 0;
    ws.on('message', (data, isBinary) => {
      got.push(isBinary ? data : data.toString());
      bytes += data.length;
      if ((binary ? bytes : got.length) >= want) { ws.removeAllListeners('message'); resolve(got); }
    });
    for (const p of payloads) ws.send(p);
  });
}

function jsonish(size, seed) {
  let s = '';
  for (let i = 0; s.length < size; i++) s += `{"id":${(i * 7919 + seed) % 100003},"name":"item-${i}","ok":true} `;
  return s.slice(0, size);
}

async function main() {
  let srv = await server(['--binary', 'cat']);
  let ws = await open(srv.port, true);
  ok(/^permessage-deflate/.test(ws.extensions), 'perMessageDeflate: true is agreed', ws.extensions);
  const sizes = [0, 1, 100, 1000, 65536, 1 << 20, 16 << 20];
  const payloads = sizes.map((s, i) => i % 2 ? Buffer.from(jsonish(s, i)) : require('crypto').randomBytes(s));
  const back = await echo(ws, payloads, true);
  ok(Buffer.concat(back).equals(Buffer.concat(payloads)), `--binary: ${sizes} bytes echoed byte-exact`);
  ok(await close(ws) === 1000, 'closed with 1000');
  ok(await stop(srv) === 0, 'server exits 0');

  // By default the server answers client_no_context_takeover to every offer (RFC 7692 7.1.1.2
  // allows it; it keeps an idle session free of inflate state). node ws refuses that answer
  // only when told clientNoContextTakeover: false explicitly: that case is tested against
  // --deflate-params=client_context_takeover below.
  await offersEcho(['cat'], [undefined, true]);
  await offersEcho(['--deflate-params=client_context_takeover,server_context_takeover', 'cat'],
                   [false, true]);
  finish();
}

async function offersEcho(args, cnctValues) {
  const srv = await server(args);
  const offers = [];
  for (const serverNoContextTakeover of [false, true])
    for (const clientNoContextTakeover of cnctValues)
      for (const serverMaxWindowBits of [undefined, 8, 9, 11, 15])
        for (const clientMaxWindowBits of [undefined, true, 8, 12, 15])
          offers.push({ serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits,
                        clientMaxWindowBits, threshold: 0 });
  const lines = [0, 10, 100, 5000, 200000].map((s) => jsonish(s, s));
  const bad = [];
  for (const o of offers) {
    let w;
    try { w = await open(srv.port, o); } catch (e) { bad.push([o, e.message]); continue; }
    const got = await echo(w, lines, false);
    if (!/^permessage-deflate/.test(w.extensions) || JSON.stringify(got) !== JSON.stringify(lines))
      bad.push([o, w.extensions]);
    await close(w);
  }
  ok(bad.length === 0, `${args.join(' ')}: all ${offers.length} perMessageDeflate offers of node ws ` +
     `(clientNoContextTakeover ${cnctValues}) are agreed and echo text exactly`, bad.slice(0, 2));
  ok(await stop(srv) === 0, 'server exits 0');
}

main().catch((e) => { ok(false, `no error (${e.stack})`); finish(); });
