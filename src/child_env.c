/*
 * child_env: the CGI/1.1 environment of a program (child_env.h).
 */
#include "build-config.h"

#include "child_env.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handshake.h"

struct envbuf {
    char *data;
    size_t len, cap;
    size_t *offs;
    size_t n, ncap;
    bool failed;
};

static void eb_reserve(struct envbuf *b, size_t more)
{
    if (b->failed || b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    b->data = p;
    b->cap = cap;
}

static void eb_raw(struct envbuf *b, const char *s, size_t n)
{
    eb_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Starts a new variable "NAME=". */
static void eb_begin(struct envbuf *b, const char *name)
{
    if (b->n == b->ncap) {
        size_t ncap = b->ncap ? b->ncap * 2 : 64;
        size_t *p = realloc(b->offs, ncap * sizeof *p);
        if (!p) {
            b->failed = true;
            return;
        }
        b->offs = p;
        b->ncap = ncap;
    }
    b->offs[b->n++] = b->len;
    eb_raw(b, name, strlen(name));
    eb_raw(b, "=", 1);
}

static void eb_end(struct envbuf *b)
{
    eb_raw(b, "", 1);
}

static void eb_value(struct envbuf *b, const char *v, size_t n)
{
    /* CR, LF and other control characters in a value become spaces. */
    eb_reserve(b, n);
    if (b->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        b->data[b->len++] = (ch < 0x20 && ch != '\t') || ch == 0x7f ? ' ' : (char)ch;
    }
}

static void eb_set(struct envbuf *b, const char *name, const char *value)
{
    eb_begin(b, name);
    eb_value(b, value, strlen(value));
    eb_end(b);
}

static void eb_setn(struct envbuf *b, const char *name, const char *value, size_t n)
{
    eb_begin(b, name);
    eb_value(b, value, n);
    eb_end(b);
}

static bool is_tchar(unsigned char ch)
{
    return isalnum(ch) || (ch && strchr("!#$%&'*+-.^`|~", ch));
}

/* Header names we pass as HTTP_*: RFC 9110 tokens without '_', and not Proxy. */
static bool header_passes(const char *name, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)name[i]))
            return false; /* '_' is not a tchar here: dropped, as nginx does */
    return !(n == 5 && strncasecmp(name, "Proxy", 5) == 0);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* PATH_INFO is percent-decoded (CGI/1.1, and what websocketd does). */
static void eb_decoded(struct envbuf *b, const char *s, size_t n)
{
    eb_reserve(b, n);
    if (b->failed)
        return;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        unsigned char ch = (unsigned char)s[i];
        if (ch == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            ch = (unsigned char)(hi * 16 + lo);
            i += 2;
        }
        b->data[b->len++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
}

static void server_name_port(const struct child_env_request *r, struct envbuf *b)
{
    const char *host = "";
    size_t hn = 0;
    const char *port = NULL;
    size_t pn = 0;

    for (unsigned i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, "Host") == 0) {
            host = r->headers[i].value;
            hn = r->headers[i].value_len;
            break;
        }
    const char *colon = NULL;
    if (hn && host[0] == '[') {
        const char *close = memchr(host, ']', hn);
        if (close && close + 1 < host + hn && close[1] == ':')
            colon = close + 1;
    } else {
        colon = memrchr(host, ':', hn);
    }
    if (colon) {
        port = colon + 1;
        pn = (size_t)(host + hn - port);
        hn = (size_t)(colon - host);
    }
    eb_setn(b, "SERVER_NAME", host, hn);
    if (pn)
        eb_setn(b, "SERVER_PORT", port, pn);
    else
        eb_set(b, "SERVER_PORT", r->https ? "443" : "80");
}

static void http_headers(const struct child_env_request *r, struct envbuf *b)
{
    for (unsigned i = 0; i < r->nheaders; i++) {
        const struct handshake_header *h = &r->headers[i];
        bool seen = false;

        if (!header_passes(h->name, h->name_len))
            continue;
        for (unsigned j = 0; j < i && !seen; j++)
            seen = r->headers[j].name_len == h->name_len &&
                   strcasecmp(r->headers[j].name, h->name) == 0;
        if (seen)
            continue; /* joined into the first occurrence */
        eb_begin(b, "HTTP_");
        b->len--; /* eb_begin wrote "HTTP_=": drop the '=' and append the name */
        eb_reserve(b, h->name_len + 1);
        if (b->failed)
            return;
        for (size_t k = 0; k < h->name_len; k++) {
            char ch = (char)toupper((unsigned char)h->name[k]);
            b->data[b->len++] = ch == '-' ? '_' : ch;
        }
        b->data[b->len++] = '=';
        eb_value(b, h->value, h->value_len);
        for (unsigned j = i + 1; j < r->nheaders; j++)
            if (r->headers[j].name_len == h->name_len &&
                strcasecmp(r->headers[j].name, h->name) == 0) {
                eb_raw(b, ", ", 2);
                eb_value(b, r->headers[j].value, r->headers[j].value_len);
            }
        eb_end(b);
    }
}

/* --unbuffered's variables: they replace passed ones of the same name. */
static const char *const unbuffered_names[] = {"LD_PRELOAD", "_STDBUF_O", "PYTHONUNBUFFERED", NULL};

static bool is_unbuffered_name(const char *name)
{
    for (const char *const *u = unbuffered_names; *u; u++)
        if (strcmp(name, *u) == 0)
            return true;
    return false;
}

/* Whether extra ("NAME=value"..., or NULL) defines name. */
static bool in_extra(char *const *extra, const char *name)
{
    size_t n = strlen(name);

    for (; extra && *extra; extra++)
        if (strncmp(*extra, name, n) == 0 && (*extra)[n] == '=')
            return true;
    return false;
}

static bool passed(const struct child_env_request *r, const char *name)
{
    for (const char *const *p = r->passenv; p && *p; p++)
        if (strcmp(*p, name) == 0)
            return getenv(name) != NULL;
    return false;
}

static void unbuffered(const struct child_env_request *r, struct envbuf *b)
{
    const char *pre = passed(r, "LD_PRELOAD") ? getenv("LD_PRELOAD") : NULL;

    eb_begin(b, "LD_PRELOAD");
    if (pre && *pre) { /* the loader splits on ':' and blanks: ours is one more entry */
        eb_value(b, pre, strlen(pre));
        eb_raw(b, ":", 1);
    }
    eb_value(b, r->stdbuf_lib, strlen(r->stdbuf_lib));
    eb_end(b);
    eb_set(b, "_STDBUF_O", "L");
    eb_set(b, "PYTHONUNBUFFERED", "1");
}

char **child_env_build(const struct child_env_request *r)
{
    struct envbuf b = {0};
    char num[32];

    eb_set(&b, "SERVER_SOFTWARE", r->server_software);
    for (const char *const *p = r->passenv; p && *p; p++) {
        const char *v = getenv(*p);
        if (v && !(r->stdbuf_lib && is_unbuffered_name(*p)) && !in_extra(r->extra_env, *p))
            eb_set(&b, *p, v);
    }
    if (r->stdbuf_lib)
        unbuffered(r, &b);
    if (r->term && !passed(r, "TERM"))
        eb_set(&b, "TERM", r->term);
    eb_set(&b, "REMOTE_ADDR", r->remote_addr);
    eb_set(&b, "REMOTE_HOST", r->remote_host ? r->remote_host : r->remote_addr);
    server_name_port(r, &b);
    eb_set(&b, "SERVER_PROTOCOL", "HTTP/1.1");
    eb_set(&b, "GATEWAY_INTERFACE", "CGI/1.1");
    eb_set(&b, "REQUEST_METHOD", r->method ? r->method : "GET");
    eb_begin(&b, "SCRIPT_NAME");
    eb_decoded(&b, r->script_name,
               r->script_name_len ? r->script_name_len : strlen(r->script_name));
    eb_end(&b);
    if (r->script_filename)
        eb_set(&b, "SCRIPT_FILENAME", r->script_filename);
    eb_begin(&b, "PATH_INFO");
    if (r->path_info)
        eb_decoded(&b, r->path_info, r->path_info_len);
    else
        eb_decoded(&b, r->path, r->path_len);
    eb_end(&b);
    eb_begin(&b, "PATH_TRANSLATED");
    eb_decoded(&b, r->path, r->path_len);
    eb_end(&b);
    eb_set(&b, "QUERY_STRING", r->query);
    eb_set(&b, "AUTH_TYPE", "");
    eb_set(&b, "CONTENT_LENGTH", r->content_length ? r->content_length : "");
    eb_set(&b, "CONTENT_TYPE", r->content_type ? r->content_type : "");
    eb_set(&b, "REMOTE_IDENT", "");
    eb_set(&b, "REMOTE_USER", r->remote_user ? r->remote_user : "");
    snprintf(num, sizeof num, "%" PRIu64, r->unique_id);
    eb_set(&b, "UNIQUE_ID", num);
    snprintf(num, sizeof num, "%d", r->remote_port);
    eb_set(&b, "REMOTE_PORT", num);
    eb_set(&b, "REQUEST_URI", r->url);
    if (r->https)
        eb_set(&b, "HTTPS", "on");
    if (r->https) /* mod_ssl's names; SUCCESS: --sslca verified it */
        eb_set(&b, "SSL_CLIENT_VERIFY",
               r->ssl_client_s_dn && *r->ssl_client_s_dn ? "SUCCESS" : "NONE");
    if (r->ssl_client_s_dn && *r->ssl_client_s_dn)
        eb_set(&b, "SSL_CLIENT_S_DN", r->ssl_client_s_dn);
    if (r->subprotocol)
        eb_set(&b, "SEC_WEBSOCKET_PROTOCOL", r->subprotocol);
    http_headers(r, &b);
    for (char *const *e = r->extra_env; e && *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        eb_begin(&b, "");
        b.len--; /* eb_begin wrote "=": the name comes from the entry */
        eb_raw(&b, *e, (size_t)(eq - *e) + 1);
        eb_value(&b, eq + 1, strlen(eq + 1));
        eb_end(&b);
    }

    if (b.failed) {
        free(b.data);
        free(b.offs);
        return NULL;
    }
    /* One block: the pointer array, then the strings. */
    size_t head = (b.n + 1) * sizeof(char *);
    char **env = malloc(head + b.len);
    if (env) {
        char *strings = (char *)env + head;
        memcpy(strings, b.data, b.len);
        for (size_t i = 0; i < b.n; i++)
            env[i] = strings + b.offs[i];
        env[b.n] = NULL;
    }
    free(b.data);
    free(b.offs);
    return env;
}
