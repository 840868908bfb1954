/* Inputs the fuzzers found (or that once failed): replayed through the
 * fuzz entry points so they keep passing. Files in tests/regress/. */
#include "t.h"
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
int fuzz_pop3_one(const uint8_t *d, size_t n);
int fuzz_smtp_one(const uint8_t *d, size_t n);

void test_regress(void)
{
    DIR *dir = opendir("regress");
    struct dirent *e;
    if (!dir) return;
    while ((e = readdir(dir))) {
        char path[512];
        static uint8_t buf[1 << 20];
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "regress/%s", e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        if (!strncmp(e->d_name, "pop3-", 5)) CHECK(fuzz_pop3_one(buf, n) == 0);
        else if (!strncmp(e->d_name, "smtp-", 5)) CHECK(fuzz_smtp_one(buf, n) == 0);
    }
    closedir(dir);
}
