/*
 * forkexec N: fork and exec a tiny program N times, waiting for each.
 * Short-lived address spaces: the worst case for a shadow page table.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 500, i, status, ok = 0;
    char *child[] = { "/bin/busybox", "true", NULL };

    for (i = 0; i < n; i++) {
        pid_t pid = fork();

        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            execv(child[0], child);
            _exit(127);
        }
        if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0) {
            ok++;
        }
    }
    printf("forkexec: %d of %d children exited 0\n", ok, n);
    return ok == n ? 0 : 1;
}
