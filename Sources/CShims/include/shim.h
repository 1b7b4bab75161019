// What Swift's Glibc module cannot give sv: kernel headers it does not export, function-like
// macros, variadic calls, GNU-only calls, and the fork child of sv_spawn.
// This public header must not define _GNU_SOURCE (it breaks the Glibc module); shim.c does.
#ifndef SV_SHIM_H
#define SV_SHIM_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>

/// One descriptor placed in the child: `source` (in the parent) becomes `target` in the child.
typedef struct {
    int source;
    int target;
} sv_fd_mapping;

/// Everything the child does between fork and exec.
typedef struct {
    const char *path;            // absolute executable
    char *const *argv;           // NULL-terminated
    char *const *envp;           // NULL-terminated
    const char *cwd;             // NULL: stay in svd's
    const sv_fd_mapping *fds;    // targets must be 0..<fd_count, each once
    int fd_count;
    int umask_value;             // -1: leave svd's
    long long nofile_soft;       // -1: leave svd's
} sv_spawn_request;

/// Where a spawn failed, with errno: 0 = no failure.
typedef struct {
    int stage;   // SV_STAGE_*
    int error;   // errno
} sv_spawn_failure;

enum {
    SV_STAGE_NONE = 0,
    SV_STAGE_FORK = 1,
    SV_STAGE_SETUP = 2,
    SV_STAGE_CHDIR = 3,
    SV_STAGE_EXEC = 4
};

/// vforks and execs as `request` says. Returns the child's pid, or -1 with `failure` filled.
/// The child: new session, empty signal mask, SIGPIPE back to default (the caller keeps every
/// other disposition default: `sv_reset_signal_dispositions`), umask and NOFILE restored,
/// descriptors placed, every other descriptor closed, chdir, execve. The exact errno of a failed
/// step comes back, so the parent reports the exact reason.
pid_t sv_spawn(const sv_spawn_request *request, sv_spawn_failure *failure);

// Function-like macros of <sys/wait.h>.
int sv_wifexited(int status);
int sv_wexitstatus(int status);
int sv_wifsignaled(int status);
int sv_wtermsig(int status);

/// waitid(P_ALL, 0, …, WEXITED|WNOHANG|WNOWAIT): the pid of an exited child without reaping it, 0 if none, -1 on error.
pid_t sv_peek_exited(void);

/// Sets every catchable signal's disposition to the default (svd's start: inherited SIG_IGNs
/// would otherwise reach every app, since ignored signals survive exec).
void sv_reset_signal_dispositions(void);

/// prctl is variadic. PR_SET_CHILD_SUBREAPER.
int sv_set_child_subreaper(void);

/// pipe2 with O_CLOEXEC, read end optionally O_NONBLOCK.
int sv_pipe_cloexec(int fds[2], int nonblocking_read);

/// accept4 with SOCK_CLOEXEC|SOCK_NONBLOCK.
int sv_accept(int listener);

/// SO_PEERCRED: the peer's uid, or -1.
long long sv_peer_uid(int socket);

/// socketpair(AF_UNIX, SOCK_STREAM) with both ends close-on-exec.
int sv_socketpair_cloexec(int fds[2]);

/// fcntl is variadic: set or clear FD_CLOEXEC, O_NONBLOCK; F_SETPIPE_SZ.
int sv_set_cloexec(int fd, int on);
int sv_set_nonblocking(int fd, int on);

/// socket + bind + listen on a Unix path; -1 with errno. The path must fit sun_path.
int sv_listen_unix(const char *path, int backlog);
/// socket + connect to a Unix path, blocking, close-on-exec; -1 with errno.
int sv_connect_unix(const char *path);

/// The sigset type is opaque to Swift's importer on some glibc builds; these build one.
int sv_block_signals(const int *signals, int count);
int sv_signalfd(const int *signals, int count);
int sv_unblock_all_signals(void);

/// Raw syscalls without a glibc wrapper on every build.
int sv_pidfd_open(pid_t pid);
int sv_pidfd_send_signal(int pidfd, int sig);
/// close_range(first, soft NOFILE limit - 1).
int sv_close_range_from(int first);

/// clock_gettime(CLOCK_MONOTONIC) and CLOCK_REALTIME in nanoseconds.
int64_t sv_monotonic_ns(void);
int64_t sv_realtime_ns(void);

/// timerfd_settime absolute on CLOCK_MONOTONIC; 0 ns disarms.
int sv_timerfd_arm_abs(int fd, int64_t deadline_ns);

/// timerfd_settime absolute with TFD_TIMER_CANCEL_ON_SET (a CLOCK_REALTIME timer: a read fails
/// with ECANCELED when the wall clock is set); 0 ns disarms.
int sv_timerfd_arm_realtime(int fd, int64_t deadline_ns);

/// flock(LOCK_EX|LOCK_NB).
int sv_flock_exclusive_nb(int fd);

/// O_PATH-free open of a file for append, create 0600, close-on-exec; -1 with errno.
int sv_open_append(const char *path);
int sv_openat_append(int dirfd, const char *name);

/// Number of clock ticks per second (sysconf(_SC_CLK_TCK)) and page size.
long sv_clock_ticks(void);
long sv_page_size(void);

/// getpgid, getsid for a pid.
pid_t sv_getsid(pid_t pid);

#endif

#ifndef SV_SHIM_DAEMONIZE
#define SV_SHIM_DAEMONIZE
/// fork(2) and setsid(2) for a daemon: returns in the daemon a descriptor to report on
/// (write "R" when ready, or a line of error text, then close); the calling process waits for
/// that report and exits: 0 on "R" (or "L": another daemon holds the lock), 1 otherwise,
/// copying the error text to its stderr. Returns -1 with errno if fork fails.
int sv_daemonize(void);
#endif

#include <spawn.h>
/// posix_spawn_file_actions_addchdir_np is GNU-only (glibc 2.29+): not in Swift's Glibc module.
int sv_spawn_file_actions_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// memfd_create(name, MFD_CLOEXEC): the handover of `sv update` (the caller clears close-on-exec
/// right before the exec).
int sv_memfd_create(const char *name);
/// fexecve with the current environment: returns only on failure.
int sv_fexecve(int fd, char *const *argv);

/// fcntl(F_SETPIPE_SZ): a larger pipe for a flooding app; the new size or -1 (over the user's
/// pipe budget, EPERM).
int sv_set_pipe_size(int fd, int size);
