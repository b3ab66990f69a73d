/*
 * Hardware breakpoints the guest kernel arms (DBGBVR/DBGBCR) on user
 * code whose calls ESPT has already chained.
 *
 * hb_call() on one page calls hb_f on another page by a direct `bl`;
 * under ESPT that jump is linked after a few calls, and hb_f's `bx lr`
 * back to hb_ret is looked up inline (docs/espt.md, invariant 13).  Each
 * part warms the calls up (CALLS calls one at a time, then CALLS in one
 * loop), then arms a breakpoint through the kernel and makes CALLS more:
 *
 *  - ptrace: a forked, traced child; its parent sets breakpoint 0 with
 *    PTRACE_SETHBPREGS at hb_f, and at each SIGTRAP stop moves it to the
 *    return address hb_ret and back, so every call stops twice.  Wants
 *    CALLS stops at each and none elsewhere.
 *  - perf: perf_event_open(PERF_TYPE_BREAKPOINT, HW_BREAKPOINT_X) on
 *    hb_g, a function never called before (the control), and on hb_f
 *    after the warm-up, counting.  Linux steps over a perf breakpoint
 *    with a mismatch breakpoint, which QEMU does not implement, so under
 *    QEMU each counts 1 where hardware counts CALLS: the count is printed
 *    for the host to compare with espt=off, not judged here.
 *
 * A kernel without hardware breakpoints on this CPU fails the test.
 *
 *   hwbreak [CALLS]    (default 1000)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <linux/hw_breakpoint.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* The caller's page and the callee's page: see the asm at the end. */
uint32_t hb_call(uint32_t n);
uint32_t hb_call_g(uint32_t n);
extern char hb_f[], hb_g[], hb_ret[];

/* ARM debug BCR as Linux's ptrace takes it: user, execute, 4 bytes, on */
#define BCR_USER_X      (0xfu << 5 | 2u << 1 | 1u)
/* PTRACE_{GET,SET}HBPREGS numbers: 0 resources, then BVR0, BCR0... */
#define HBP_INFO        0
#define HBP_BVR0        1
#define HBP_BCR0        2

static uint32_t calls = 1000;

/* hb_f(x) = 3x: the sum of n calls of hb_call()'s loop. */
static uint32_t want_sum(uint32_t n)
{
    return 3 * n * (n + 1) / 2;
}

static void warm(uint32_t (*call)(uint32_t))
{
    uint32_t i;

    for (i = 0; i < calls; i++) {
        call(1);
    }
    call(calls);
}

/* The kernel's hw-breakpoint lines at boot, for the record. */
static void kernel_says(void)
{
    static char buf[1 << 17];
    int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);
    char *line, *save;

    if (n < 0) {
        printf("hwbreak: klogctl: %s\n", strerror(errno));
        return;
    }
    buf[n] = 0;
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (strstr(line, "hw-breakpoint") || strstr(line, "hw_breakpoint")) {
            printf("hwbreak: kernel: %s\n", line);
        }
    }
}

static int set_hbp(pid_t pid, long num, uint32_t val)
{
    if (ptrace(PTRACE_SETHBPREGS, pid, (void *)num, &val) < 0) {
        printf("hwbreak: PTRACE_SETHBPREGS %ld = 0x%x: %s\n", num, val,
               strerror(errno));
        return -1;
    }
    return 0;
}

static void child(void)
{
    uint32_t sum;

    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) {
        _exit(10);
    }
    warm(hb_call);
    raise(SIGSTOP);
    sum = hb_call(calls);
    _exit(sum == want_sum(calls) ? 0 : 11);
}

/* The ptrace part; returns 0 if every call stopped twice. */
static int ptrace_part(void)
{
    uint32_t info, at_f = 0, at_ret = 0, other = 0;
    struct user_regs regs;
    int status;
    pid_t pid = fork();

    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        child();
    }
    if (waitpid(pid, &status, 0) != pid || !WIFSTOPPED(status) ||
        WSTOPSIG(status) != SIGSTOP) {
        printf("hwbreak: FAIL child did not stop: status 0x%x\n", status);
        return 1;
    }
    if (ptrace(PTRACE_GETHBPREGS, pid, (void *)HBP_INFO, &info) < 0) {
        printf("hwbreak: FAIL PTRACE_GETHBPREGS: %s\n", strerror(errno));
        kill(pid, SIGKILL);
        return 1;
    }
    printf("hwbreak: debug architecture 0x%x, %u breakpoints, "
           "%u watchpoints\n", info >> 24, info & 0xff, (info >> 8) & 0xff);
    if ((info & 0xff) == 0) {
        printf("hwbreak: FAIL the kernel offers no hardware breakpoints "
               "on this CPU\n");
        kill(pid, SIGKILL);
        return 1;
    }
    if (set_hbp(pid, HBP_BVR0, (uint32_t)hb_f) < 0 ||
        set_hbp(pid, HBP_BCR0, BCR_USER_X) < 0) {
        kill(pid, SIGKILL);
        return 1;
    }
    ptrace(PTRACE_CONT, pid, NULL, NULL);
    for (;;) {
        uint32_t pc, next;

        if (waitpid(pid, &status, 0) != pid) {
            perror("waitpid");
            return 1;
        }
        if (!WIFSTOPPED(status)) {
            break;
        }
        if (WSTOPSIG(status) != SIGTRAP) {
            ptrace(PTRACE_CONT, pid, NULL, (void *)(long)WSTOPSIG(status));
            continue;
        }
        ptrace(PTRACE_GETREGS, pid, NULL, &regs);
        pc = regs.uregs[15];
        if (pc == (uint32_t)hb_f) {
            at_f++;
            next = (uint32_t)hb_ret;
        } else if (pc == (uint32_t)hb_ret) {
            at_ret++;
            next = (uint32_t)hb_f;
        } else {
            /* Not ours: stop counting on it, take the breakpoint away. */
            if (other++ < 5) {
                printf("hwbreak: stop at 0x%x\n", pc);
            }
            next = 0;
        }
        if (next ? set_hbp(pid, HBP_BVR0, next)
                 : set_hbp(pid, HBP_BCR0, BCR_USER_X & ~1u)) {
            kill(pid, SIGKILL);
            return 1;
        }
        ptrace(PTRACE_CONT, pid, NULL, NULL);
    }
    printf("hwbreak: ptrace: %u calls, stops at f %u, at return %u, "
           "elsewhere %u, child %s %d\n", calls, at_f, at_ret, other,
           WIFEXITED(status) ? "exit" : "signal",
           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "child ended with status 0x%x", status);
    CHECK(at_f == calls && at_ret == calls && other == 0,
          "stops at f %u, at return %u, elsewhere %u; want %u, %u, 0",
          at_f, at_ret, other, calls, calls);
    return 0;
}

/* Count executions of @addr by perf over @n calls through @call. */
static void perf_part(const char *name, char *addr,
                      uint32_t (*call)(uint32_t), uint32_t want)
{
    struct perf_event_attr a;
    uint64_t count = 0;
    uint32_t sum;
    int fd;

    memset(&a, 0, sizeof(a));
    a.type = PERF_TYPE_BREAKPOINT;
    a.size = sizeof(a);
    a.bp_type = HW_BREAKPOINT_X;
    a.bp_addr = (uintptr_t)addr;
    a.bp_len = sizeof(long);
    a.disabled = 1;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    fd = syscall(__NR_perf_event_open, &a, 0, -1, -1, 0);
    if (fd < 0) {
        printf("hwbreak: perf %s: FAIL perf_event_open: %s\n", name,
               strerror(errno));
        failures++;
        return;
    }
    ioctl(fd, PERF_EVENT_IOC_RESET, 0);
    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
    sum = call(calls);
    ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
    if (read(fd, &count, sizeof(count)) != sizeof(count)) {
        printf("hwbreak: perf %s: FAIL read: %s\n", name, strerror(errno));
        failures++;
    }
    close(fd);
    printf("hwbreak: perf %s: %u calls, count %llu\n", name, calls,
           (unsigned long long)count);
    CHECK(sum == want, "%s: sum %u, want %u", name, sum, want);
}

int main(int argc, char **argv)
{
    check_prefix = "hwbreak";
    if (argc > 1) {
        calls = strtoul(argv[1], NULL, 0);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    kernel_says();
    if (ptrace_part()) {
        return 1;
    }
    /* The control: hb_g never ran, so no jump to it is linked yet. */
    perf_part("cold g", hb_g, hb_call_g, 5 * calls);
    warm(hb_call);
    perf_part("warm f", hb_f, hb_call, want_sum(calls));
    printf("hwbreak: %s\n", failures ? "FAIL" : "ok");
    return failures ? 1 : 0;
}

/*
 * The callers on one page, hb_f and hb_g on the next.  ARM code (the C
 * code around is Thumb): .type makes the linker switch modes on calls.
 */
asm(
"   .section .text.hwbreak, \"ax\"\n"
"   .arm\n"
"   .balign 4096\n"
/* uint32_t hb_call(uint32_t n): hb_f(n) + hb_f(n - 1) + ... + hb_f(1) */
"   .global hb_call\n"
"   .type   hb_call, %function\n"
"hb_call:\n"
"   push    {r4, r5, lr}\n"
"   mov     r4, r0\n"
"   mov     r5, #0\n"
"1: mov     r0, r4\n"
"   bl      hb_f\n"
"   .global hb_ret\n"
"hb_ret:\n"
"   add     r5, r5, r0\n"
"   subs    r4, r4, #1\n"
"   bne     1b\n"
"   mov     r0, r5\n"
"   pop     {r4, r5, pc}\n"
"   .size   hb_call, . - hb_call\n"
/* uint32_t hb_call_g(uint32_t n): n calls of hb_g, 5 each */
"   .global hb_call_g\n"
"   .type   hb_call_g, %function\n"
"hb_call_g:\n"
"   push    {r4, r5, lr}\n"
"   mov     r4, r0\n"
"   mov     r5, #0\n"
"1: bl      hb_g\n"
"   add     r5, r5, r0\n"
"   subs    r4, r4, #1\n"
"   bne     1b\n"
"   mov     r0, r5\n"
"   pop     {r4, r5, pc}\n"
"   .size   hb_call_g, . - hb_call_g\n"
"   .balign 4096\n"
"   .global hb_f\n"
"   .type   hb_f, %function\n"
"hb_f:\n"
"   add     r0, r0, r0, lsl #1\n"
"   bx      lr\n"
"   .size   hb_f, . - hb_f\n"
"   .global hb_g\n"
"   .type   hb_g, %function\n"
"hb_g:\n"
"   mov     r0, #5\n"
"   bx      lr\n"
"   .size   hb_g, . - hb_g\n"
"   .balign 4096\n"
"   .text\n"
);
