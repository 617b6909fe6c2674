#ifndef CUTOVER_CLINUX_SHIM_H
#define CUTOVER_CLINUX_SHIM_H
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <spawn.h>
#include <signal.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>

/* The kernel calls that Swift cannot (variadic prctl) or should not make piecemeal (spawning a
   program in a process group of its own), for the `exec` step. Nothing here links a library. */

/* glibc declares it only under _GNU_SOURCE, which would change other headers' types here. */
extern int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *__restrict actions, const char *__restrict path);

extern int pipe2(int pipefd[2], int flags);

/* A pipe whose ends close on exec (the program gets them as its stdout and stderr only). */
static inline int cutover_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

/* Orphaned descendants of this process are re-parented to it, not to init: a program that
   double-forks cannot escape the step that started it. */
static inline int cutover_become_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

/* Starts `argv` (looked up on PATH when it has no slash) with `envp`, in `cwd` (NULL: this
   process's), in a new process group whose id is its pid, stdin from /dev/null, stdout and
   stderr onto the given descriptors, every signal at its default disposition and none blocked
   (this process ignores SIGPIPE; a program should not inherit that). 0 or an errno. */
static inline int cutover_spawn(char *const argv[], char *const envp[], const char *cwd, int out_fd, int err_fd, pid_t *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&actions);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&actions); return rc; }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    if ((rc = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)) == 0
        && (rc = posix_spawn_file_actions_adddup2(&actions, out_fd, 1)) == 0
        && (rc = posix_spawn_file_actions_adddup2(&actions, err_fd, 2)) == 0
        && (cwd == NULL || (rc = posix_spawn_file_actions_addchdir_np(&actions, cwd)) == 0)
        && (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)) == 0
        && (rc = posix_spawnattr_setpgroup(&attr, 0)) == 0
        && (rc = posix_spawnattr_setsigmask(&attr, &none)) == 0
        && (rc = posix_spawnattr_setsigdefault(&attr, &all)) == 0) {
        rc = posix_spawnp(pid, argv[0], &actions, &attr, argv, envp);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    return rc;
}

static inline int cutover_exit_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
static inline int cutover_term_signal(int status) { return WIFSIGNALED(status) ? WTERMSIG(status) : 0; }
#endif
