// --framing=json|length with node's ws as the client: `cat` echoes JSON lines and length
// records unchanged, so text (newlines, NUL, non-BMP) and binary messages of 0 B..16 MiB come
// back byte-exact and of their type, with and without permessage-deflate; output that breaks
// the framing closes 1011 with its reason.
const crypto = require('crypto');
const WebSocket = require('ws');
const { ok, finish, timeLimit, server, stop, open, close } = require('./wsbtest.js');

timeLimit(600000);
const SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];
const CHARS = ['a', '\0', '\n', '"', '\\', '\u007f', 'é', '€', '\u2028', '😀'];

function text(size) {
  const parts = [];
  let n = 0;
  while (n + 4 <= size) {
    const c = CHARS[crypto.randomInt(CHARS.length)];
    parts.push(c);
    n += Buffer.byteLength(c);
  }
  return parts.join('') + 'x'.repeat(size - n);
}

// Sends each message after the last came back; resolves with the ones that differ.
async function roundTrips(ws, msgs) {
  const bad = [];
  for (const m of msgs) {
    const back = await new Promise((resolve) => {
      ws.once('message', (data, isBinary) => resolve(isBinary ? data : data.toString()));
      ws.send(m);
    });
    const same = typeof m === 'string' ? back === m : Buffer.isBuffer(back) && back.equals(m);
    if (!same) bad.push([typeof m, m.length, typeof back, back.length]);
  }
  return bad;
}

// Messages until the close, (messages, code, reason); listening from the start: what the
// program says first can come in the same read as the 101.
function closeOf(port) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const got = [];
    ws.on('message', (d) => got.push(d.toString()));
    ws.once('close', (code, reason) => resolve([got, code, reason.toString()]));
  });
}

async function main() {
  const msgs = [];
  for (const s of SIZES) msgs.push(text(s), crypto.randomBytes(s));
  for (const mode of ['json', 'length']) {
    const srv = await server([`--framing=${mode}`, 'cat']);
    for (const pmd of [true, false]) {
      const ws = await open(srv.port, pmd);
      const bad = await roundTrips(ws, msgs);
      ok(bad.length === 0, `${mode}, deflate ${pmd}: text and binary of ${SIZES} bytes round-trip`, bad);
      ok(await close(ws) === 1000, `${mode}, deflate ${pmd}: closed with 1000`);
    }
    ok(await stop(srv) === 0, `${mode}: server exits 0`);
  }

  const srv = await server(['--framing=json', '/bin/sh', '-c', 'echo \'"hi"\'; echo "{\\"binary\\":"; sleep 30']);
  const [got, code, reason] = await closeOf(srv.port);
  ok(JSON.stringify(got) === '["hi"]', 'bad output: the message before it arrives', got);
  ok(code === 1011, 'bad output: close 1011', code);
  ok(reason === 'bad output from program: "binary" that is not a base64 string at line 2 byte 10',
     'bad output: the reason says what and where', reason);
  ok(/\[conn \d+\] bad output from program/.test(srv.log), 'bad output: logged with the connection id');
  ok(await stop(srv) === 0, 'server exits 0');
  finish();
}

main().catch((e) => { ok(false, `no error (${e.stack})`); finish(); });
