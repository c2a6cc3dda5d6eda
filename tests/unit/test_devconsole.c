/*
 * test_devconsole: the console page reflects the request's URL into one
 * attribute, escaped, whatever the Host and target hold; the CSP hashes
 * match the script and style actually sent.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "devconsole.h"
#include "tap.h"

static size_t count(const char *hay, size_t n, const char *needle)
{
    size_t c = 0, nl = strlen(needle);
    for (size_t i = 0; i + nl <= n; i++)
        if (memcmp(hay + i, needle, nl) == 0)
            c++;
    return c;
}

static size_t count_byte(const char *s, size_t n, char b)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += s[i] == b;
    return c;
}

/* The raw value attribute of the URL box (between its quotes), or NULL. */
static char *url_attr(const char *page)
{
    const char *p = strstr(page, "id=\"url\"");
    if (!p || !(p = strstr(p, "value=\"")))
        return NULL;
    p += 7;
    const char *e = strchr(p, '"');
    return e ? strndup(p, (size_t)(e - p)) : NULL;
}

/* What a browser reads from the attribute: our five references undone. */
static char *unescape(const char *s)
{
    static const struct {
        const char *ref;
        char c;
    } refs[] = {{"&amp;", '&'},  {"&lt;", '<'},   {"&gt;", '>'},
                {"&quot;", '"'}, {"&#39;", '\''}, {"&#96;", '`'}};
    char *out = malloc(strlen(s) + 1), *o = out;
    while (*s) {
        size_t i;
        for (i = 0; i < sizeof refs / sizeof refs[0]; i++)
            if (strncmp(s, refs[i].ref, strlen(refs[i].ref)) == 0)
                break;
        if (i < sizeof refs / sizeof refs[0]) {
            *o++ = refs[i].c;
            s += strlen(refs[i].ref);
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

static size_t template_lt, template_quot, template_len;

/*
 * One request: the page is well formed for any input (no byte of it in the
 * attribute can end the attribute or open markup; the reflected part adds
 * no '<' or '"' to the page) and the box shows want.
 */
static void check(const char *name, const char *scheme, const char *host, const char *target,
                  size_t tlen, const char *want)
{
    size_t len = 0;
    char *page = devconsole_page(scheme, host, target, tlen, &len);
    if (!ok(page != NULL, "%s: page built", name))
        return;
    is_int(strlen(page), len, "%s: length matches, no NUL inside", name);
    char *attr = url_attr(page);
    if (ok(attr != NULL, "%s: URL box has a value", name)) {
        bool clean = true;
        for (const unsigned char *a = (const unsigned char *)attr; *a; a++)
            if (*a < 0x21 || *a >= 0x7f || strchr("<>\"'`", *a))
                clean = false;
        ok(clean, "%s: attribute holds only printable ASCII, no < > \" ' `", name);
        char *shown = unescape(attr);
        if (!ok(strcmp(shown, want) == 0, "%s: box shows %s", name, want))
            diag("  got %s", shown);
        free(shown);
    }
    free(attr);
    /* every '<' and '"' of the page is the template's own */
    is_int(count_byte(page, len, '<'), template_lt, "%s: no '<' added", name);
    is_int(count_byte(page, len, '"'), template_quot, "%s: no '\"' added", name);
    is_int(count(page, len, "<script"), 1, "%s: one script element", name);
    is_int(count(page, len, "</script"), 1, "%s: one script end", name);
    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)page[i] >= 0x80 || page[i] == '\0')
            ascii = false;
    ok(ascii, "%s: page is ASCII (no raw U+2028, NUL or invalid UTF-8)", name);
    free(page);
}

/* The CSP names the SHA-256 of the script and style as sent. */
static void check_csp(void)
{
    size_t len;
    char *page = devconsole_page("ws", "h", "/", 1, &len);
    const struct {
        const char *open, *close, *dir;
    } el[] = {{"<script>", "</script>", "script-src 'sha256-"},
              {"<style>", "</style>", "style-src 'sha256-"}};

    ok(strstr(page, "default-src 'none'") != NULL, "CSP: default-src 'none'");
    ok(strstr(page, "connect-src ws: wss:") != NULL, "CSP: connect-src ws: wss:");
    ok(!strstr(page, "unsafe-inline") && !strstr(page, "unsafe-eval"), "CSP: nothing unsafe");
    ok(!strstr(page, "@CSP@") && !strstr(page, "@WSURL@"), "no marker left");
    for (size_t i = 0; i < 2; i++) {
        const char *s = strstr(page, el[i].open), *e = NULL;
        unsigned char md[32];
        char b64[45], want[80];
        unsigned mdlen;
        if (!ok(s && (e = strstr(s, el[i].close)), "%s element present", el[i].open))
            continue;
        s += strlen(el[i].open);
        EVP_Digest(s, (size_t)(e - s), md, &mdlen, EVP_sha256(), NULL);
        EVP_EncodeBlock((unsigned char *)b64, md, 32);
        snprintf(want, sizeof want, "%s%s'", el[i].dir, b64);
        if (!ok(strstr(page, want) != NULL, "CSP hash of %s matches the page", el[i].open))
            diag("  want %s", want);
    }
    /* no inline handlers or style attributes, which the CSP would block */
    ok(!strstr(page, " onclick=") && !strstr(page, " onload=") && !strstr(page, " style="),
       "no inline handlers or style attributes");
    free(page);
}

int main(void)
{
    /* the template's own counts: a target of "/" adds neither '<' nor '"' */
    size_t len;
    char *base = devconsole_page("ws", "a", "/", 1, &len);
    ok(base != NULL && strstr(base, "<!DOCTYPE html>") == base, "page starts with the doctype");
    template_lt = count_byte(base, len, '<');
    template_quot = count_byte(base, len, '"');
    template_len = len - strlen("ws://a/");
    ok(strstr(base, "value=\"ws://a/\"") != NULL, "plain URL in the box");
    ok(strstr(base, "http://") == NULL && strstr(base, "https://") == NULL &&
           strstr(base, " src=") == NULL && strstr(base, " href=") == NULL,
       "no external asset");
    free(base);

    check("plain", "ws", "example.com:8080", "/chat?room=1&x=2", 16,
          "ws://example.com:8080/chat?room=1&x=2");
    check("wss", "wss", "example.com", "/", 1, "wss://example.com/");
    check("other scheme is ws", "http", "example.com", "/", 1, "ws://example.com/");
    check("NULL scheme is ws", NULL, "example.com", "/", 1, "ws://example.com/");
    check("no Host", "ws", NULL, "/x", 2, "ws://localhost/x");
    check("empty Host", "ws", "", "/x", 2, "ws://localhost/x");
    check("empty target", "ws", "h", "", 0, "ws://h/");
    check("asterisk target", "ws", "h", "*", 1, "ws://h/");
    check("authority target", "ws", "h", "h:80", 4, "ws://h/");
    check("absolute target", "ws", "h", "http://other/p?q", 16, "ws://h/p?q");
    check("absolute, no path", "ws", "h", "http://other", 12, "ws://h/");
    check("IPv6 host", "ws", "[::1]:8080", "/", 1, "ws://[::1]:8080/");

    const char *xss = "/\"><script>alert(1)</script>";
    check("script in target", "ws", "h", xss, strlen(xss), "ws://h/\"><script>alert(1)</script>");
    check("script end in target", "ws", "h", "/</script><b>", 13, "ws://h/</script><b>");
    check("quotes", "ws", "h", "/'\"`'", 5, "ws://h/'\"`'");
    check("backslashes", "ws", "h", "/a\\\"b\\", 6, "ws://h/a\\\"b\\");
    check("entities stay text", "ws", "h", "/&quot;&lt;", 11, "ws://h/&quot;&lt;");
    check("U+2028 U+2029", "ws", "h",
          "/a\xe2\x80\xa8"
          "b\xe2\x80\xa9",
          9, "ws://h/a%E2%80%A8b%E2%80%A9");
    check("invalid UTF-8", "ws", "h", "/\xff\xc0\x80", 4, "ws://h/%FF%C0%80");
    check("NUL in target", "ws", "h", "/a\0\"><script>", 13, "ws://h/a%00\"><script>");
    check("controls", "ws", "h", "/\r\n\t \x7f", 6, "ws://h/%0D%0A%09%20%7F");
    check("fragment", "ws", "h", "/a#b", 4, "ws://h/a%23b");
    check("comment and CDATA", "ws", "h", "/--><!--<![CDATA[", 17, "ws://h/--><!--<![CDATA[");
    check("marker in target", "ws", "h", "/@WSURL@@CSP@", 13, "ws://h/@WSURL@@CSP@");

    check("script in Host", "ws", "evil\"><script>alert(1)</script>", "/", 1,
          "ws://evil%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E/");
    check("Host cannot add a path, userinfo, query, fragment", "ws", "a/b@c?d#e\\f", "/", 1,
          "ws://a%2Fb%40c%3Fd%23e%5Cf/");
    check("Host with U+2028 and controls", "ws", "a\xe2\x80\xa8\r\n", "/", 1,
          "ws://a%E2%80%A8%0D%0A/");
    check("Host quotes stay escaped", "ws", "a'b&c", "/", 1, "ws://a'b&c/");

    /* a target as long as the largest header block: sized exactly */
    size_t big = 16384;
    char *t = malloc(big);
    memset(t, '"', big);
    t[0] = '/';
    char *page = devconsole_page("ws", "h", t, big, &len);
    ok(page && len == template_len + strlen("ws://h/") + (big - 1) * strlen("&quot;"),
       "16 KiB of quotes: length is exact");
    free(page);
    free(t);

    check_csp();
    return tap_done();
}
