#include "t.h"
int t_pass, t_fail;
int main(void)
{
    test_codec();
    test_pop3();
    test_smtp();
    test_regress();
    test_sdk();
    printf("%d passed, %d failed\n", t_pass, t_fail);
    return t_fail ? 1 : 0;
}
