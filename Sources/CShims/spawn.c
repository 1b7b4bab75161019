// sv_spawn: the fork child of every app (design.md §1). It is C because no Swift may run between
// fork and exec (STYLE.md 19): the child is a copy of svd's address space and may only make
// async-signal-safe calls.
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/// The vfork child. It runs in svd's memory until it execs, so it only makes async-signal-safe
/// system calls, writes nothing but `*failure`, and never returns.
static void spawn_child(const sv_spawn_request *request, volatile sv_spawn_failure *failure) {
#define FAIL(stage_value) do { failure->stage = (stage_value); failure->error = errno; _exit(127); } while (0)
    // New session: the app leads its own process group, so stop signals reach its whole tree.
    if (setsid() < 0) FAIL(SV_STAGE_SETUP);

    // svd set every disposition to the default at start except SIGPIPE, which it ignores; an
    // ignored signal stays ignored across exec, so that one is reset here. Then an empty mask
    // (svd blocks the signals it reads from its signalfd).
    signal(SIGPIPE, SIG_DFL);
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);

    if (request->umask_value >= 0) umask((mode_t)request->umask_value);

    // Move every source above the layout first, so that placing one never clobbers another.
    int count = request->fd_count;
    int moved[64];
    if (count > 64) {
        errno = E2BIG;
        FAIL(SV_STAGE_SETUP);
    }
    for (int i = 0; i < count; i++) {
        moved[i] = fcntl(request->fds[i].source, F_DUPFD_CLOEXEC, count);
        if (moved[i] < 0) FAIL(SV_STAGE_SETUP);
    }
    for (int i = 0; i < count; i++) {
        // dup2 clears close-on-exec on the target: exactly the layout survives the exec.
        if (dup2(moved[i], request->fds[i].target) < 0) FAIL(SV_STAGE_SETUP);
    }
    // Every other descriptor closed (close-on-exec or not): the app sees only its layout.
    if (syscall(SYS_close_range, (unsigned)count, ~0U, 0) < 0) {
        for (int fd = count; fd < 65536; fd++) close(fd);
    }

    // The app's NOFILE soft limit only now: svd's own descriptors may sit above it, and the
    // moves above need room (with 1,000 apps svd holds thousands).
    if (request->nofile_soft >= 0) {
        struct rlimit limit;
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
            limit.rlim_cur = (rlim_t)request->nofile_soft;
            setrlimit(RLIMIT_NOFILE, &limit);
        }
    }

    if (request->cwd != NULL && chdir(request->cwd) < 0) FAIL(SV_STAGE_CHDIR);
    execve(request->path, request->argv, request->envp);
    FAIL(SV_STAGE_EXEC);
#undef FAIL
}

pid_t sv_spawn(const sv_spawn_request *request, sv_spawn_failure *failure) {
    // vfork: the child borrows svd's memory (no page tables copied) and svd is suspended until
    // the child execs or exits, so a failure written by the child is there when vfork returns.
    volatile sv_spawn_failure result = {SV_STAGE_NONE, 0};
    pid_t pid = vfork();
    if (pid == 0) spawn_child(request, &result);
    if (pid < 0) {
        failure->stage = SV_STAGE_FORK;
        failure->error = errno;
        return -1;
    }
    if (result.stage != SV_STAGE_NONE) {
        // The child failed before or at exec and exited 127: reap it here, it never ran the app.
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        failure->stage = result.stage;
        failure->error = result.error;
        return -1;
    }
    failure->stage = SV_STAGE_NONE;
    failure->error = 0;
    return pid;
}
