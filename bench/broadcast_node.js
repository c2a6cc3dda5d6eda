// The broadcast bench's reference: a Node.js server on Debian's node-ws that runs one program and
// sends each line it prints with ws.send to every connected client, as a chat or log fan-out
// written on ws would. Clients' messages go to the program's stdin as lines.
//
//     NODE_PATH=/usr/share/nodejs node bench/broadcast_node.js PORT PROGRAM [ARGS...]
//
// The program starts with the server and runs until it exits (then the server exits too).
'use strict';
const { spawn } = require('child_process');
const readline = require('readline');
const WebSocket = require('ws');

const port = Number(process.argv[2]);
const child = spawn(process.argv[3], process.argv.slice(4), { stdio: ['pipe', 'pipe', 'inherit'] });
const server = new WebSocket.Server({ host: '127.0.0.1', port, perMessageDeflate: false });
server.on('connection', (ws) => {
  ws.on('message', (data) => child.stdin.write(data.toString() + '\n'));
  ws.on('error', () => {});
});
readline.createInterface({ input: child.stdout }).on('line', (line) => {
  for (const ws of server.clients) {
    if (ws.readyState === WebSocket.OPEN) ws.send(line);
  }
});
child.on('exit', (code) => process.exit(code === null ? 1 : code));
process.on('SIGTERM', () => { child.kill('SIGTERM'); process.exit(0); });
