/*
 * pipe N: two processes bounce a token through a pair of pipes N times.
 * Context switches between two address spaces, no new memory.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000, i, a[2], b[2], status;
    uint32_t token = 1;
    pid_t pid;

    if (pipe(a) || pipe(b)) {
        perror("pipe");
        return 1;
    }
    pid = fork();
    if (pid == 0) {
        for (i = 0; i < n; i++) {
            if (read(a[0], &token, 4) != 4) {
                _exit(1);
            }
            token = token * 1103515245u + 12345u;
            if (write(b[1], &token, 4) != 4) {
                _exit(1);
            }
        }
        _exit(0);
    }
    for (i = 0; i < n; i++) {
        token ^= i;
        if (write(a[1], &token, 4) != 4 || read(b[0], &token, 4) != 4) {
            perror("pipe i/o");
            return 1;
        }
    }
    waitpid(pid, &status, 0);
    printf("pipe: %d round trips, token %08x\n", n, token);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
