/* main.c — placeholder entry point, replaced by the CLI dispatcher. */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "orderhub: not built yet\n");
    return 1;
}
