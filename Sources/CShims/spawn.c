// sv_spawn: the fork child of every app (design.md §1). It is C because no Swift may run between
// fork and exec (STYLE.md 19): the child is a copy of svd's address space and may only make
// async-signal-safe calls.
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static void write_failure(int pipe_fd, int stage, int error) {
    sv_spawn_failure failure = {stage, error};
    ssize_t ignored = write(pipe_fd, &failure, sizeof failure);
    (void)ignored;
}

/// The fork child. Only async-signal-safe calls: it runs in a copy of svd's address space.
static void spawn_child(const sv_spawn_request *request, int report_fd) {
    // New session: the app leads its own process group, so stop signals reach its whole tree.
    if (setsid() < 0) { write_failure(report_fd, SV_STAGE_SETUP, errno); _exit(127); }

    // Default dispositions and an empty mask (svd blocks and ignores signals of its own).
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sigaction(sig, &dfl, NULL);  // fails harmlessly for the signals glibc reserves
    }
    sigset_t empty;
    sigemptyset(&empty);
    sigprocmask(SIG_SETMASK, &empty, NULL);

    if (request->umask_value >= 0) umask((mode_t)request->umask_value);
    if (request->nofile_soft >= 0) {
        struct rlimit limit;
        if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
            limit.rlim_cur = (rlim_t)request->nofile_soft;
            setrlimit(RLIMIT_NOFILE, &limit);
        }
    }

    // Move every source above the layout first, so that placing one never clobbers another.
    int count = request->fd_count;
    int floor = count + 1;
    if (report_fd >= floor) floor = report_fd + 1;
    int moved[64];
    if (count > 64) { write_failure(report_fd, SV_STAGE_SETUP, E2BIG); _exit(127); }
    for (int i = 0; i < count; i++) {
        moved[i] = fcntl(request->fds[i].source, F_DUPFD_CLOEXEC, floor);
        if (moved[i] < 0) { write_failure(report_fd, SV_STAGE_SETUP, errno); _exit(127); }
    }
    // The report pipe must stay open above the layout: move it too.
    int report = fcntl(report_fd, F_DUPFD_CLOEXEC, floor);
    if (report < 0) { write_failure(report_fd, SV_STAGE_SETUP, errno); _exit(127); }
    for (int i = 0; i < count; i++) {
        // dup2 clears close-on-exec on the target: exactly the layout survives the exec.
        if (dup2(moved[i], request->fds[i].target) < 0) {
            write_failure(report, SV_STAGE_SETUP, errno); _exit(127);
        }
    }
    // Close everything above the layout except the report pipe (close-on-exec closes it at exec).
    int first = count;
    if (report > first) {
        if (syscall(SYS_close_range, (unsigned)first, (unsigned)(report - 1), 0) < 0) {
            for (int fd = first; fd < report; fd++) close(fd);
        }
    }
    if (syscall(SYS_close_range, (unsigned)(report + 1), ~0U, 0) < 0) {
        for (int fd = report + 1; fd < 65536; fd++) close(fd);
    }

    if (request->cwd != NULL && chdir(request->cwd) < 0) {
        write_failure(report, SV_STAGE_CHDIR, errno); _exit(127);
    }
    execve(request->path, request->argv, request->envp);
    write_failure(report, SV_STAGE_EXEC, errno);
    _exit(127);
}

pid_t sv_spawn(const sv_spawn_request *request, sv_spawn_failure *failure) {
    failure->stage = SV_STAGE_NONE;
    failure->error = 0;
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) {
        failure->stage = SV_STAGE_PIPE;
        failure->error = errno;
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        failure->stage = SV_STAGE_FORK;
        failure->error = errno;
        close(report[0]);
        close(report[1]);
        return -1;
    }
    if (pid == 0) {
        close(report[0]);
        spawn_child(request, report[1]);
    }
    close(report[1]);
    sv_spawn_failure got;
    ssize_t n;
    do {
        n = read(report[0], &got, sizeof got);
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof got) {
        // The child failed before or at exec and exited 127: reap it here, it never ran the app.
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *failure = got;
        return -1;
    }
    return pid;
}

