/*
 * devconsole: the page is a template built into the binary (see
 * devconsole.html); two markers are replaced per request. The output is
 * sized first and written second by the same code (struct out with a NULL
 * buffer only counts), so the length can never disagree with the writes.
 */
#include "devconsole.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

/* static const unsigned char devconsole_html[] = {...}, NUL-terminated */
#include "src/devconsole_html.h"

#define MARK_CSP "@CSP@"
#define MARK_URL "@WSURL@"

struct out {
    char *p; /* NULL: count only */
    size_t n;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->p)
        memcpy(o->p + o->n, s, n);
    o->n += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* One byte of the URL: percent-encoded when url_ok() says so, then escaped
 * for an HTML attribute (quoted with either quote). */
static void put_url_byte(struct out *o, unsigned char c, bool pct)
{
    static const char hex[] = "0123456789ABCDEF";
    char b[3];

    if (pct) {
        b[0] = '%';
        b[1] = hex[c >> 4];
        b[2] = hex[c & 15];
        put(o, b, 3);
        return;
    }
    switch (c) {
    case '&':
        puts_(o, "&amp;");
        break;
    case '<':
        puts_(o, "&lt;");
        break;
    case '>':
        puts_(o, "&gt;");
        break;
    case '"':
        puts_(o, "&quot;");
        break;
    case '\'':
        puts_(o, "&#39;");
        break;
    case '`':
        puts_(o, "&#96;");
        break;
    default:
        b[0] = (char)c;
        put(o, b, 1);
    }
}

/* Bytes a URL cannot hold as they are: controls, space, DEL, non-ASCII
 * (which also keeps invalid UTF-8, U+2028 and U+2029 off the page), and '#'
 * (a request target has no fragment; a raw one would start one). */
static bool target_pct(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || c == '#';
}

/* The host may only hold what RFC 3986 allows in an authority's host and
 * port (reg-name, IP literal, ':'), so it cannot add a path, query,
 * fragment or userinfo to the URL. */
static bool host_pct(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return false;
    return !strchr("-._~!$&'()*+,;=:[]%", c) || c == 0;
}

static void put_url(struct out *o, const char *scheme, const char *host, const char *target,
                    size_t target_len)
{
    bool wss = scheme && strcmp(scheme, "wss") == 0;

    puts_(o, wss ? "wss://" : "ws://");
    if (!host || !*host)
        host = "localhost";
    for (const char *h = host; *h; h++)
        put_url_byte(o, (unsigned char)*h, host_pct((unsigned char)*h));

    /* origin form as it is; absolute form: its path; else (authority, '*'): "/" */
    if (!target || target_len == 0 || target[0] != '/') {
        const char *sep = target ? memchr(target, ':', target_len) : NULL;
        const char *path = NULL;
        if (sep && (size_t)(target + target_len - sep) > 3 && sep[1] == '/' && sep[2] == '/')
            path = memchr(sep + 3, '/', (size_t)(target + target_len - (sep + 3)));
        if (!path) {
            put(o, "/", 1);
            return;
        }
        target_len -= (size_t)(path - target);
        target = path;
    }
    for (size_t i = 0; i < target_len; i++)
        put_url_byte(o, (unsigned char)target[i], target_pct((unsigned char)target[i]));
}

/* "'sha256-BASE64'" of the text between open and close tags in the
 * template, as the CSP hashes an inline element: its exact content. */
static bool element_hash(const char *page, const char *open, const char *close, char out[64])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    unsigned int mdlen = 0;
    const char *start = strstr(page, open), *end;

    if (!start)
        return false;
    start += strlen(open);
    end = strstr(start, close);
    if (!end || !EVP_Digest(start, (size_t)(end - start), md, &mdlen, EVP_sha256(), NULL) ||
        mdlen != sizeof md)
        return false;
    memcpy(out, "'sha256-", 8);
    EVP_EncodeBlock((unsigned char *)out + 8, md, sizeof md); /* 44 chars + NUL */
    strcpy(out + 52, "'");
    return true;
}

static void render(struct out *o, const char *page, const char *script_hash, const char *style_hash,
                   const char *scheme, const char *host, const char *target, size_t target_len)
{
    const char *p = page, *m;

    while ((m = strchr(p, '@')) != NULL) {
        put(o, p, (size_t)(m - p));
        if (strncmp(m, MARK_CSP, sizeof MARK_CSP - 1) == 0) {
            /* connect-src: the box takes any ws/wss URL, not only this server's */
            puts_(o, "default-src 'none'; script-src ");
            puts_(o, script_hash);
            puts_(o, "; style-src ");
            puts_(o, style_hash);
            puts_(o, "; connect-src ws: wss:; base-uri 'none'; form-action 'none'");
            p = m + sizeof MARK_CSP - 1;
        } else if (strncmp(m, MARK_URL, sizeof MARK_URL - 1) == 0) {
            put_url(o, scheme, host, target, target_len);
            p = m + sizeof MARK_URL - 1;
        } else {
            put(o, "@", 1);
            p = m + 1;
        }
    }
    puts_(o, p);
}

char *devconsole_page(const char *scheme, const char *host, const char *target, size_t target_len,
                      size_t *len)
{
    const char *page = (const char *)devconsole_html;
    char script_hash[64], style_hash[64];
    struct out o = {NULL, 0};

    /* each reflected byte grows to at most 6 ("&quot;"): keep the sum in range */
    if (target_len > SIZE_MAX / 8 || (host && strlen(host) > SIZE_MAX / 8))
        return NULL;
    if (!element_hash(page, "<script>", "</script>", script_hash) ||
        !element_hash(page, "<style>", "</style>", style_hash))
        return NULL;
    render(&o, page, script_hash, style_hash, scheme, host, target, target_len);
    o.p = malloc(o.n + 1);
    if (!o.p)
        return NULL;
    o.n = 0;
    render(&o, page, script_hash, style_hash, scheme, host, target, target_len);
    o.p[o.n] = '\0';
    *len = o.n;
    return o.p;
}
