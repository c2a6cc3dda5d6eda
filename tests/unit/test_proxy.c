/* Unit tests of proxy: --trust-proxy lists, Forwarded and X-Forwarded-For, spoofed chains. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy.h"
#include "tap.h"

static struct proxy_trust trust;

static void use(const char *list)
{
    char err[256];
    proxy_trust_free(&trust);
    if (proxy_trust_parse(&trust, list, err, sizeof err) != 0) {
        ok(0, "trust list '%s' parses (%s)", list, err);
        exit(1);
    }
}

/* Runs one request: peer, then NULL-terminated name/value pairs. Returns "addr port" or "-". */
static const char *client(const char *peer, ...)
{
    static char out[128];
    struct proxy_scan ps;
    char addr[PROXY_ADDR_MAX];
    int port = -1;
    va_list ap;

    proxy_scan_init(&ps, &trust, peer);
    va_start(ap, peer);
    for (const char *n; (n = va_arg(ap, const char *)) != NULL;) {
        const char *v = va_arg(ap, const char *);
        proxy_scan_header(&ps, n, v);
    }
    va_end(ap);
    if (!proxy_scan_result(&ps, addr, sizeof addr, &port))
        return "-";
    snprintf(out, sizeof out, "%s %d", addr, port);
    return out;
}

#define is_str(got, want, ...)                                                                     \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        if (!ok(strcmp(g_, w_) == 0, __VA_ARGS__))                                                 \
            diag("  got '%s', want '%s'", g_, w_);                                                 \
    } while (0)

static int bad_list(const char *list)
{
    struct proxy_trust t;
    char err[256] = "";
    int r = proxy_trust_parse(&t, list, err, sizeof err);
    if (r == 0)
        proxy_trust_free(&t);
    return r != 0 && err[0] != '\0';
}

static void lists(void)
{
    use("127.0.0.1, ::1 ,10.0.0.0/8,[fd00::]/8");
    ok(proxy_trusted(&trust, "127.0.0.1"), "exact IPv4");
    ok(!proxy_trusted(&trust, "127.0.0.2"), "a neighbour of an exact IPv4 is not trusted");
    ok(proxy_trusted(&trust, "::1"), "exact IPv6");
    ok(proxy_trusted(&trust, "::ffff:127.0.0.1"), "IPv4-mapped IPv6 matches as IPv4");
    ok(proxy_trusted(&trust, "10.255.255.255") && proxy_trusted(&trust, "10.0.0.0"),
       "/8: both ends of the network");
    ok(!proxy_trusted(&trust, "11.0.0.0") && !proxy_trusted(&trust, "9.255.255.255"),
       "/8: just outside on both sides");
    ok(proxy_trusted(&trust, "fdff:ffff::1") && !proxy_trusted(&trust, "fe00::1"),
       "IPv6 /8 in brackets");
    ok(!proxy_trusted(&trust, "unix-socket"), "unix-socket needs 'unix'");
    ok(!proxy_trusted(&trust, "unknown") && !proxy_trusted(&trust, ""),
       "non-addresses are never trusted");

    use("172.16.5.4/12"); /* host bits ignored */
    ok(proxy_trusted(&trust, "172.31.255.255") && proxy_trusted(&trust, "172.16.0.0") &&
           !proxy_trusted(&trust, "172.32.0.0") && !proxy_trusted(&trust, "172.15.255.255"),
       "/12 with host bits set: 172.16.0.0-172.31.255.255");
    use("192.168.1.7/32,2001:db8::/127");
    ok(proxy_trusted(&trust, "192.168.1.7") && !proxy_trusted(&trust, "192.168.1.6"),
       "/32 is one host");
    ok(proxy_trusted(&trust, "2001:db8::1") && !proxy_trusted(&trust, "2001:db8::2"),
       "/127: two hosts");
    use("0.0.0.0/0");
    ok(proxy_trusted(&trust, "1.2.3.4") && !proxy_trusted(&trust, "::1"),
       "/0 IPv4: all IPv4, no IPv6");
    use("::/0");
    ok(proxy_trusted(&trust, "2001:db8::5") && !proxy_trusted(&trust, "1.2.3.4"),
       "::/0: all IPv6 only");
    use("loopback");
    ok(proxy_trusted(&trust, "127.1.2.3") && proxy_trusted(&trust, "::1") &&
           !proxy_trusted(&trust, "::2") && !proxy_trusted(&trust, "128.0.0.1"),
       "loopback: 127/8 and ::1");
    use("PRIVATE,unix");
    ok(proxy_trusted(&trust, "10.1.1.1") && proxy_trusted(&trust, "172.20.0.1") &&
           proxy_trusted(&trust, "192.168.0.1") && proxy_trusted(&trust, "fd12::1") &&
           !proxy_trusted(&trust, "8.8.8.8") && !proxy_trusted(&trust, "fe80::1"),
       "private: RFC 1918 and fc00::/7 (case-insensitive name)");
    ok(proxy_trusted(&trust, "unix-socket"), "unix: --unixsocket clients");

    ok(bad_list(""), "empty list refused");
    ok(bad_list(" , ,"), "list of nothing refused");
    ok(bad_list("localhost"), "host names refused");
    ok(bad_list("10.0.0.0/33"), "IPv4 prefix > 32 refused");
    ok(bad_list("::/129"), "IPv6 prefix > 128 refused");
    ok(bad_list("10.0.0.0/"), "empty prefix refused");
    ok(bad_list("10.0.0.0/-1") && bad_list("10.0.0.0/8x") && bad_list("10.0.0.0/0008"),
       "non-numeric or overlong prefixes refused");
    ok(bad_list("10.0.0.256") && bad_list("10.0.0") && bad_list("1.2.3.4.5"), "bad IPv4 refused");
    ok(bad_list("[10.0.0.1]") && bad_list("[::1") && bad_list("::1]"), "bad brackets refused");
    ok(bad_list("::ffff:10.0.0.0/104"), "IPv4-mapped network refused (ambiguous prefix)");
    ok(bad_list("127.0.0.1,nonsense"), "one bad entry refuses the list");
}

static void xff(void)
{
    use("127.0.0.1,10.0.0.0/8");
    is_str(client("127.0.0.1", "X-Forwarded-For", "203.0.113.7", NULL), "203.0.113.7 0",
           "trusted peer: the client from X-Forwarded-For");
    is_str(client("198.51.100.1", "X-Forwarded-For", "203.0.113.7", NULL), "-",
           "untrusted peer: X-Forwarded-For ignored");
    is_str(client("127.0.0.1", NULL), "-", "trusted peer, no header: the peer stands");
    is_str(client("127.0.0.1", "X-Forwarded-For", "6.6.6.6, 203.0.113.7", NULL), "203.0.113.7 0",
           "spoofed left part: the right-most untrusted address wins");
    is_str(client("127.0.0.1", "X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.1.1.1, 10.2.2.2", NULL),
           "203.0.113.7 0", "trusted hops on the right are skipped");
    is_str(client("127.0.0.1", "X-Forwarded-For", "10.9.9.9, 10.1.1.1", NULL), "10.9.9.9 0",
           "every hop trusted: the left-most");
    is_str(
        client("127.0.0.1", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-For", "203.0.113.7", NULL),
        "203.0.113.7 0", "repeated headers are one list, in order");
    is_str(client("127.0.0.1", "x-forwarded-for", "2001:DB8::1", NULL), "2001:db8::1 0",
           "bare IPv6, canonical form, header name in any case");
    is_str(client("127.0.0.1", "X-Forwarded-For", "[2001:db8::1]:4711", NULL), "2001:db8::1 4711",
           "bracketed IPv6 with a port");
    is_str(client("127.0.0.1", "X-Forwarded-For", "203.0.113.7:65535", NULL), "203.0.113.7 65535",
           "IPv4 with a port");
    is_str(client("127.0.0.1", "X-Forwarded-For", "::ffff:203.0.113.7", NULL), "203.0.113.7 0",
           "IPv4-mapped becomes IPv4");
    is_str(client("127.0.0.1", "X-Forwarded-For", "203.0.113.7:65536", NULL), "-",
           "port > 65535: not an address");
    is_str(client("127.0.0.1", "X-Forwarded-For", "unknown", NULL), "-",
           "'unknown': the peer stands");
    is_str(client("127.0.0.1", "X-Forwarded-For", "203.0.113.7, garbage", NULL), "-",
           "garbage as the right-most hop: the peer stands (never the address left of it)");
    is_str(client("127.0.0.1", "X-Forwarded-For", "garbage, 203.0.113.7", NULL), "203.0.113.7 0",
           "garbage left of the client does not matter");
    is_str(client("127.0.0.1", "X-Forwarded-For", " , ,203.0.113.7 ,", NULL), "203.0.113.7 0",
           "empty entries and blanks skipped");
    is_str(client("127.0.0.1", "X-Forwarded-For", "", NULL), "-", "empty header: the peer stands");
    is_str(client("127.0.0.1", "X-Forwarded-For", "1.2.3.4 5.6.7.8", NULL), "-",
           "space-separated: not an address");
    is_str(client("127.0.0.1", "X-Forwarded-For", "fe80::1%eth0", NULL), "-",
           "zone ids are not taken");
    is_str(client("127.0.0.1", "X-Real-IP", "6.6.6.6", NULL), "-", "other headers are ignored");
    is_str(client("::ffff:127.0.0.1", "X-Forwarded-For", "203.0.113.7", NULL), "203.0.113.7 0",
           "a peer in IPv4-mapped form is trusted as IPv4");
}

static void forwarded(void)
{
    use("127.0.0.1,::1");
    is_str(client("127.0.0.1", "Forwarded", "for=203.0.113.7", NULL), "203.0.113.7 0",
           "Forwarded: for=");
    is_str(
        client("127.0.0.1", "Forwarded", "For=\"203.0.113.7:8080\";proto=https;by=127.0.0.1", NULL),
        "203.0.113.7 8080", "quoted with a port, other parameters, name in any case");
    is_str(client("127.0.0.1", "Forwarded", "for=\"[2001:db8:cafe::17]:4711\"", NULL),
           "2001:db8:cafe::17 4711", "quoted bracketed IPv6 with a port (RFC 7239 section 6)");
    is_str(client("127.0.0.1", "Forwarded", "for=\"[2001:db8:cafe::17]\"", NULL),
           "2001:db8:cafe::17 0", "bracketed IPv6 without a port");
    is_str(client("127.0.0.1", "Forwarded", "for=\"2001:db8::17\"", NULL), "-",
           "IPv6 without brackets is not RFC 7239: the peer stands");
    is_str(client("127.0.0.1", "Forwarded", "for=[2001:db8::17]", NULL), "-",
           "unquoted brackets are malformed");
    is_str(client("127.0.0.1", "Forwarded", "for=6.6.6.6, for=203.0.113.7", NULL), "203.0.113.7 0",
           "spoofed left element: the right-most untrusted hop");
    is_str(client("127.0.0.1", "Forwarded",
                  "for=203.0.113.7, for=127.0.0.1;proto=http, for=\"[::1]\"", NULL),
           "203.0.113.7 0", "trusted hops on the right skipped");
    is_str(client("127.0.0.1", "Forwarded", "for=203.0.113.7;by=x", "Forwarded", "for=127.0.0.1",
                  NULL),
           "203.0.113.7 0", "repeated Forwarded headers: one list");
    is_str(client("127.0.0.1", "Forwarded", "for=unknown", NULL), "-",
           "for=unknown: the peer stands");
    is_str(client("127.0.0.1", "Forwarded", "for=_hidden, for=127.0.0.1", NULL), "-",
           "obfuscated client: the peer stands");
    is_str(client("127.0.0.1", "Forwarded", "for=\"203.0.113.7:_port\"", NULL), "203.0.113.7 0",
           "obfuscated port: no port");
    is_str(client("127.0.0.1", "Forwarded", "for=\"203.0.113.7\";for=6.6.6.6", NULL), "-",
           "for= twice in one element is malformed");
    is_str(client("127.0.0.1", "Forwarded", "for=\"6.6.6.6, for=203.0.113.7", NULL), "-",
           "unterminated quote swallows the rest: the peer stands");
    is_str(client("127.0.0.1", "Forwarded", "for=\"6.6.6.6", "Forwarded", "for=203.0.113.7", NULL),
           "203.0.113.7 0", "an unterminated quote stays in its own header");
    is_str(client("127.0.0.1", "Forwarded", "for=\"6.6.6.6\\\", for=203.0.113.7\"", NULL), "-",
           "an escaped quote does not end the string");
    is_str(client("127.0.0.1", "Forwarded", "garbage;;, for=203.0.113.7", NULL), "203.0.113.7 0",
           "a malformed element left of the client does not matter");
    is_str(client("127.0.0.1", "Forwarded", "for=203.0.113.7, =x", NULL), "-",
           "a malformed element right of the client: the peer stands");
    is_str(client("127.0.0.1", "Forwarded", "for=203.0.113.7,,  ,;", NULL), "203.0.113.7 0",
           "empty elements skipped");
    is_str(client("127.0.0.1", "Forwarded", "proto=https", NULL), "-",
           "Forwarded without for=: no hop, the peer stands");
    is_str(client("127.0.0.1", "Forwarded", "proto=https", "X-Forwarded-For", "203.0.113.7", NULL),
           "-", "a Forwarded header wins over X-Forwarded-For even without for=");
    is_str(client("127.0.0.1", "X-Forwarded-For", "6.6.6.6", "Forwarded", "for=203.0.113.9", NULL),
           "203.0.113.9 0", "Forwarded wins over X-Forwarded-For in any order");
    is_str(client("198.51.100.1", "Forwarded", "for=203.0.113.7", NULL), "-",
           "untrusted peer: Forwarded ignored");
    is_str(client("127.0.0.1", "Forwarded",
                  "for=\"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb\"", NULL),
           "-", "an over-long value is not an address");
    is_str(client("127.0.0.1", "Forwarded", "for=203.0.113.7 ;  proto=https ", NULL),
           "203.0.113.7 0", "blanks around ';'");
    is_str(client("127.0.0.1", "Forwarded", "for=203.0.113.7 x", NULL), "-", "junk after a value");
}

int main(void)
{
    lists();
    xff();
    forwarded();
    proxy_trust_free(&trust);
    return tap_done();
}
