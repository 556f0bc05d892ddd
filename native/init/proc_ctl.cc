// Process control shared by every process the helper becomes (init, exec'd
// process, hook runner): tying its life to the runtime, and handing a program
// a clean signal state.
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "init/steps.h"

namespace ocirun::init {

void arm_parent_death(int parent_pidfd) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) _exit(1);
  // PDEATHSIG only covers deaths from now on; the pidfd tells whether the
  // parent already died before it was set.
  pollfd p{parent_pidfd, POLLIN, 0};
  if (poll(&p, 1, 0) != 0) _exit(1);
}

void await_release(int sync, int parent_pidfd, bool dumpable_until_released) {
  arm_parent_death(parent_pidfd);
  // Until execve, processes already in the container must not ptrace us or
  // reach our host fds through /proc/<pid>/fd (CVE-2016-9962).
  if (!dumpable_until_released) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  char go = 0;
  ssize_t n;
  do n = read(sync, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || go != 'g') _exit(1);  // stage 0 failed and reported it
  close(sync);
  if (dumpable_until_released) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

void reset_signals() {
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

}  // namespace ocirun::init
