"""--address: repeatable, IPv4 and IPv6 ([::1]); one listener each, the kernel's port reused."""
import subprocess

from wsbtest import *

log = os.path.join(LOG_DIR, "addresses.server.log")
with open(log, "wb") as f:
    p = subprocess.Popen([WSBRIDGE, "--address=127.0.0.1", "--address=[::1]", "--port=0", "--workers=1", "cat"],
                         stdin=subprocess.DEVNULL, stdout=f, stderr=f)
text = wait_for(lambda: len(re.findall(r"listening on ws://", open(log).read())) >= 2 and open(log).read())
ports = re.findall(r"listening on ws://(?:127\.0\.0\.1|\[::1\]):(\d+)/", text or "")
ok(len(ports) == 2, "one listener per --address, IPv4 and IPv6", text)
ok(len(set(ports)) == 1, "both on the same port", ports)
port = int(ports[0])
for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    s = socket.socket(family)
    s.settimeout(10)
    s.connect((host, port))
    req, _ = upgrade_request(host="[::1]" if family == socket.AF_INET6 else host)
    s.sendall(req + encode_frame(OP_TEXT, "via " + host))
    data = b""
    while b"via" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    ok(data.startswith(b"HTTP/1.1 101") and data.endswith(b"via " + host.encode()), "echo over %s" % host, data[-20:])
    s.close()
p.terminate()
ok(p.wait(20) == 0, "exit 0 on SIGTERM")
done()
