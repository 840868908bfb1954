/* base64 (RFC 4648 10), md5 (RFC 1321 A.5), fill pattern, line assembly,
 * dot-stuffing and unstuffing. */
#include "t.h"
#include <stdint.h>
#include <stdlib.h>
#include "../sdk/base64.h"
#include "../sdk/md5.h"
#include "../sdk/fill.h"
#include "../proto/lines.h"
#include "../proto/dotstuff.h"

static void test_base64(void)
{
    static const char *const v[][2] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char enc[16];
        uint8_t dec[16];
        size_t n = base64_encode((const uint8_t *)v[i][0], strlen(v[i][0]), enc);
        CHECK(n == strlen(v[i][1]));
        CHECK_STR(enc, v[i][1]);
        long d = base64_decode(v[i][1], strlen(v[i][1]), dec, sizeof dec);
        CHECK(d == (long)strlen(v[i][0]));
        CHECK(d >= 0 && !memcmp(dec, v[i][0], (size_t)d));
    }
    uint8_t out[8];
    CHECK(base64_decode("Zm9", 3, out, sizeof out) == -1);      /* bad length */
    CHECK(base64_decode("Zm9v!A==", 8, out, sizeof out) == -1); /* bad char */
    CHECK(base64_decode("Zm9vYmFy", 8, out, 5) == -1);          /* overflow */
    CHECK(base64_decode("Zm9vYmFy", 8, out, 6) == 6);
    CHECK(base64_decode("Zg==Zg==", 8, out, sizeof out) == -1); /* padding inside */
    /* AUTH PLAIN's message */
    char enc[32];
    base64_encode((const uint8_t *)"\0joe\0secret", 11, enc);
    CHECK_STR(enc, "AGpvZQBzZWNyZXQ=");
    /* all byte values round-trip */
    uint8_t all[256], back[256];
    char e[BASE64_ENCODED_LEN(256) + 1];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    for (size_t n = 0; n <= 256; n += 17) {
        size_t k = base64_encode(all, n, e);
        CHECK(base64_decode(e, k, back, sizeof back) == (long)n && !memcmp(all, back, n));
    }
}

static void md5s(const char *s, char hex[33])
{
    md5_ctx_t c;
    uint8_t d[16];
    md5_init(&c);
    md5_update(&c, s, strlen(s));
    md5_final(&c, d);
    md5_hex(d, hex);
}

static void test_md5(void)
{
    static const char *const v[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
        /* RFC 1939's APOP example */
        {"<1896.697170952@dbc.mtview.ca.us>tanstaaf", "c4c9334bac560ecc979e58001b3e22fb"},
    };
    char hex[33];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        md5s(v[i][0], hex);
        CHECK_STR(hex, v[i][1]);
    }
    /* fed in pieces of every size gives the same digest */
    const char *s = v[6][0];
    for (size_t step = 1; step < 70; step++) {
        md5_ctx_t c;
        uint8_t d[16];
        md5_init(&c);
        for (size_t i = 0; i < strlen(s); i += step)
            md5_update(&c, s + i, strlen(s) - i < step ? strlen(s) - i : step);
        md5_final(&c, d);
        md5_hex(d, hex);
        CHECK_STR(hex, v[6][1]);
    }
}

static size_t ref_fill(char *out, size_t n)
{
    size_t o = 0;
    char line[80];
    for (int k = 0; o < n; k++) {
        int l = k % 16 == 5 ? snprintf(line, sizeof line, ".leading dot line %06d\r\n", k)
                            : snprintf(line, sizeof line, "line %06d the quick brown fox jumps over the lazy dog\r\n", k);
        for (int i = 0; i < l && o < n; i++) out[o++] = line[i];
    }
    return o;
}

static void test_fill(void)
{
    size_t big = 1100000; /* past line 999999: seven digits */
    char *ref = malloc(big);
    uint8_t *got = malloc(big);
    ref_fill(ref, big);
    static const size_t ns[] = {0, 1, 5, 56, 57, 300, 1000, 4096, 65537};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        memset(got, 0xAA, ns[i] + 1);
        fill_pattern(got, ns[i]);
        CHECK(!memcmp(got, ref, ns[i]) && got[ns[i]] == 0xAA);
    }
    fill_pattern(got, big);
    CHECK(!memcmp(got, ref, big));
    /* streaming form agrees */
    fill_cursor_t c;
    fill_cursor_init(&c);
    for (size_t o = 0; o < 70000; o += 333) fill_next(&c, got + o, 333);
    CHECK(!memcmp(got, ref, 70000));
    free(ref);
    free(got);
}

static void test_lines(void)
{
    char buf[16];
    lines_t l;
    size_t used;
    lines_init(&l, buf, sizeof buf);
    const char *in = "+OK hi\r\n-ERR x\r\n";
    CHECK(lines_feed(&l, (const uint8_t *)in, strlen(in), &used) == LINES_LINE);
    CHECK(used == 8);
    CHECK_STR(buf, "+OK hi");
    CHECK(lines_feed(&l, (const uint8_t *)in + used, strlen(in) - used, &used) == LINES_LINE);
    CHECK_STR(buf, "-ERR x");
    /* byte by byte, with a CR inside the line */
    const char *b = "a\rb\r\n";
    lines_rc_t rc = LINES_MORE;
    for (size_t i = 0; i < strlen(b); i++) {
        rc = lines_feed(&l, (const uint8_t *)b + i, 1, &used);
        CHECK(used == 1);
        if (i + 1 < strlen(b)) CHECK(rc == LINES_MORE);
    }
    CHECK(rc == LINES_LINE);
    CHECK(l.len == 3 && !memcmp(buf, "a\rb", 3));
    /* the longest line: cap-1 = 15 octets incl. CRLF */
    const char *ok = "0123456789abc\r\n", *lng = "0123456789abcd\r\n";
    CHECK(lines_feed(&l, (const uint8_t *)ok, strlen(ok), &used) == LINES_LINE);
    CHECK(l.len == 13);
    CHECK(lines_feed(&l, (const uint8_t *)lng, strlen(lng), &used) == LINES_TOOLONG);
    lines_reset(&l);
    CHECK(lines_feed(&l, (const uint8_t *)"ab\ncd\r\n", 7, &used) == LINES_BAD);
    lines_reset(&l);
    CHECK(lines_feed(&l, (const uint8_t *)"a\0b\r\n", 5, &used) == LINES_BAD);
    lines_reset(&l);
    CHECK(lines_feed(&l, (const uint8_t *)"abc", 3, &used) == LINES_MORE && used == 3);
}

static size_t stuff_all(const char *in, size_t n, size_t cap, char *out)
{
    dotstuff_t d;
    size_t o = 0, i = 0, used;
    dotstuff_init(&d);
    while (i < n) {
        size_t c = cap;
        o += dotstuff_encode(&d, (const uint8_t *)in + i, n - i, &used, (uint8_t *)out + o, c);
        i += used;
    }
    o += dotstuff_end(&d, (uint8_t *)out + o);
    return o;
}

static size_t unstuff_all(const char *in, size_t n, size_t split, char *out, int *done, size_t *consumed)
{
    unstuff_t u;
    size_t o = 0, i = 0, used;
    unstuff_init(&u);
    while (i < n && !u.done) {
        size_t k = n - i < split ? n - i : split;
        size_t j = 0;
        while (j < k && !u.done) {
            o += unstuff_decode(&u, (const uint8_t *)in + i + j, k - j, &used, (uint8_t *)out + o, 4096);
            j += used;
        }
        i += j;
    }
    *done = u.done;
    *consumed = i;
    return o;
}

static void test_dotstuff(void)
{
    char out[512], back[512];
    static const struct { const char *in, *wire; } v[] = {
        {"a\r\n", "a\r\n.\r\n"},
        {"a", "a\r\n.\r\n"},
        {"", ".\r\n"},
        {".\r\n", "..\r\n.\r\n"},
        {"x\r\n.y\r\n..z\r\n", "x\r\n..y\r\n...z\r\n.\r\n"},
        {"x\n.y\r\n", "x\n..y\r\n.\r\n"},       /* bare LF: a line start too */
        {"x\n.\r\n", "x\n..\r\n.\r\n"},          /* ... or the mail would end here */
        {"x\n", "x\n\r\n.\r\n"},                 /* no CRLF at the end: one is added */
        {"x\r.y\r\n", "x\r.y\r\n.\r\n"},        /* bare CR either */
        {"a\r\n.", "a\r\n..\r\n.\r\n"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        for (size_t cap = 2; cap < 9; cap++) {
            size_t n = stuff_all(v[i].in, strlen(v[i].in), cap, out);
            CHECK_MEM(out, n, v[i].wire, strlen(v[i].wire));
        }
    }
    /* unstuffing: the RETR body as the server sends it */
    static const struct { const char *wire, *msg; } u[] = {
        {"a\r\n.\r\n", "a\r\n"},
        {".\r\n", ""},
        {"..\r\n.\r\n", ".\r\n"},
        {"x\r\n..y\r\n...z\r\n.\r\n", "x\r\n.y\r\n..z\r\n"},
        {"a\rb\r\r\n.\r\n", "a\rb\r\r\n"},
        {".x\r\n.\r\n", "x\r\n"}, /* a dot not doubled: dropped (RFC 1939) */
        {"a\r\n.\r\nTRAILING", "a\r\n"},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
        for (size_t split = 1; split < 12; split++) {
            int done;
            size_t used;
            size_t n = unstuff_all(u[i].wire, strlen(u[i].wire), split, back, &done, &used);
            CHECK(done);
            CHECK_MEM(back, n, u[i].msg, strlen(u[i].msg));
            CHECK(used == strlen(u[i].wire) - (strstr(u[i].wire, "TRAILING") ? 8 : 0));
        }
    }
    /* round trip over the fill pattern, cut anywhere */
    uint8_t body[3000];
    static char wire[4000], msg[4000];
    fill_pattern(body, sizeof body);
    for (size_t len = 0; len < sizeof body; len += 97) {
        size_t n = stuff_all((const char *)body, len, 61, wire);
        int done;
        size_t used;
        size_t m = unstuff_all(wire, n, 13, msg, &done, &used);
        /* the end mark added a CRLF when the text did not end in one */
        int added = !(len >= 2 && body[len - 2] == '\r' && body[len - 1] == '\n') && len;
        CHECK(done && used == n);
        CHECK(m == len + (added ? 2 : 0) && !memcmp(msg, body, len));
    }
}

void test_codec(void)
{
    test_base64();
    test_md5();
    test_fill();
    test_lines();
    test_dotstuff();
}
