/* Minimal test harness: CHECK counts, a failure prints where and goes on. */
#ifndef T_H
#define T_H
#include <stdio.h>
#include <string.h>
extern int t_pass, t_fail;
#define CHECK(c) do { if (c) t_pass++; else { t_fail++; \
    printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); } } while (0)
#define CHECK_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
    if (a_ && b_ && !strcmp(a_, b_)) t_pass++; else { t_fail++; \
    printf("FAIL %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a, \
           a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } } while (0)
#define CHECK_MEM(a, an, b, bn) do { if ((an) == (bn) && !memcmp((a), (b), (an))) t_pass++; \
    else { t_fail++; printf("FAIL %s:%d: %s (%zu bytes) differs from %s (%zu bytes)\n", \
    __FILE__, __LINE__, #a, (size_t)(an), #b, (size_t)(bn)); } } while (0)
void test_codec(void);
void test_pop3(void);
void test_smtp(void);
void test_regress(void);
void test_sdk(void);
#endif
