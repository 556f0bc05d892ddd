/* The pod's infra process: holds the sandbox's namespaces, reaps the orphans
 * of a shared pid namespace, and exits on SIGINT/SIGTERM. Built static by the
 * CRI tests (images.ts) into the test pause image. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { _exit(128 + sig); }

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

int main(void) {
  if (getpid() != 1) return 1;
  struct sigaction q = {.sa_handler = quit}, r = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  if (sigaction(SIGINT, &q, NULL) || sigaction(SIGTERM, &q, NULL) || sigaction(SIGCHLD, &r, NULL)) return 2;
  for (;;) pause();
}
