// Test driver for ocirun-init, standing in for the Node addon (not part of the build).
//   g++ -std=c++20 -O1 -o /tmp/ocirun-driver native/init/testdata/driver.cc
//   ocirun-driver <helper> <plan-file> <statedir> [extra-file...]
// Each extra file is opened and passed as the helper's fd 4, 5, ...
// Environment: DRIVER_MEMFD=1 exec the helper from a sealed memfd like the addon;
// DRIVER_BEFORE_START / DRIVER_AFTER_START shell commands (INIT_PID exported);
// DRIVER_DELETE=1 unlink exec.fifo instead of starting.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

static std::string slurp(const char* path) {
  std::string s;
  FILE* f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  fclose(f);
  return s;
}

static void print_error(const uint8_t* p, uint32_t n) {
  uint32_t off = 0;
  printf("driver: MSG_ERROR");
  while (off + 8 <= n) {
    uint16_t tag; uint32_t len;
    memcpy(&tag, p + off, 2); memcpy(&len, p + off + 4, 4);
    const uint8_t* v = p + off + 8;
    if (tag == 102) { uint32_t e; memcpy(&e, v, 4); printf(" errno=%u(%s)", e, strerror(e)); }
    else if (tag == 103) printf(" syscall=\"%.*s\"", (int)len, v);
    else if (tag == 104) printf(" path=\"%.*s\"", (int)len, v);
    else if (tag == 105) printf(" message=\"%.*s\"", (int)len, v);
    off += 8 + len;
  }
  printf("\n");
}

static void status(const char* who, pid_t pid, int st) {
  if (WIFEXITED(st)) printf("driver: %s %d exited %d\n", who, pid, WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) printf("driver: %s %d killed by signal %d\n", who, pid, WTERMSIG(st));
  fflush(stdout);
}

static void run_hook(const char* var, pid_t init) {
  const char* cmd = getenv(var);
  if (!cmd || !*cmd) return;
  setenv("INIT_PID", std::to_string(init).c_str(), 1);
  fflush(stdout);
  if (system(cmd) < 0) perror("system");
}

int main(int argc, char** argv) {
  if (argc < 4) { fprintf(stderr, "usage: %s helper plan statedir [extra...]\n", argv[0]); return 2; }
  std::string plan = slurp(argv[2]);
  std::string fifo = std::string(argv[3]) + "/exec.fifo";
  int memfd = -1;
  if (getenv("DRIVER_MEMFD")) {
    std::string bin = slurp(argv[1]);
    memfd = memfd_create("ocirun-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (memfd < 0 || write(memfd, bin.data(), bin.size()) != (ssize_t)bin.size()) { perror("memfd"); return 2; }
    fcntl(memfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
    // Out of the way of the fds the child sets up at 3, 4, ...
    int hi = fcntl(memfd, F_DUPFD_CLOEXEC, 1000);
    close(memfd);
    memfd = hi;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) { perror("socketpair"); return 2; }
  pid_t helper = fork();
  if (helper == 0) {
    dup2(sv[1], 3);
    int next = 4;
    for (int i = 4; i < argc; i++) {
      int fd = open(argv[i], O_RDONLY);
      if (fd < 0) { perror(argv[i]); _exit(2); }
      if (fd != next) { dup2(fd, next); close(fd); }
      next++;
    }
    // The addon closes everything else; CLOEXEC keeps the memfd alive until exec.
    if (memfd >= 0) {
      close_range(next, 999, 0);
      char* args[] = {(char*)"ocirun-init", nullptr};
      execveat(memfd, "", args, environ, AT_EMPTY_PATH);
    } else {
      close_range(next, ~0u, 0);
      char* args[] = {(char*)"ocirun-init", nullptr};
      execv(argv[1], args);
    }
    perror("exec helper");
    _exit(2);
  }
  close(sv[1]);
  if (write(sv[0], plan.data(), plan.size()) != (ssize_t)plan.size()) perror("write plan");
  shutdown(sv[0], SHUT_WR);

  std::string buf;
  pid_t init = -1;
  bool ready = false, error = false;
  for (;;) {
    char data[4096];
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
    iovec iov{data, sizeof data};
    msghdr mh{};
    mh.msg_iov = &iov; mh.msg_iovlen = 1; mh.msg_control = ctl; mh.msg_controllen = sizeof ctl;
    ssize_t n = recvmsg(sv[0], &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_type == SCM_RIGHTS) {
        int fd; memcpy(&fd, CMSG_DATA(c), sizeof fd);
        char link[64], target[128] = {};
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        readlink(link, target, sizeof target - 1);
        printf("driver: received fd %d -> %s\n", fd, target);
      }
    }
    buf.append(data, n);
    while (buf.size() >= 8) {
      uint16_t tag; uint32_t len;
      memcpy(&tag, buf.data(), 2); memcpy(&len, buf.data() + 4, 4);
      if (buf.size() < 8 + len) break;
      const uint8_t* v = (const uint8_t*)buf.data() + 8;
      if (tag == 100) { uint32_t p; memcpy(&p, v, 4); init = p; printf("driver: MSG_PID %u\n", p); }
      else if (tag == 101) { print_error(v, len); error = true; }
      else if (tag == 106) { printf("driver: MSG_READY\n"); ready = true; }
      else if (tag == 107) printf("driver: MSG_WARNING %.*s\n", (int)len, (const char*)v);
      else printf("driver: unknown message tag %u\n", tag);
      buf.erase(0, 8 + len);
    }
    fflush(stdout);
  }
  int st;
  waitpid(helper, &st, 0);
  status("helper", helper, st);
  if (ready && !error) {
    run_hook("DRIVER_BEFORE_START", init);
    if (getenv("DRIVER_DELETE")) {
      unlink(fifo.c_str());
      printf("driver: deleted %s\n", fifo.c_str());
      // The init is blocked in open(); unlinking does not wake it, so kill it like `delete` does.
      kill(init, SIGKILL);
    } else {
      int fd = open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
      char c = 0;
      ssize_t n = fd >= 0 ? read(fd, &c, 1) : -1;
      printf("driver: start: read %zd byte(s) '%c' from exec.fifo\n", n, n == 1 ? c : '?');
      if (fd >= 0) close(fd);
      unlink(fifo.c_str());
    }
    fflush(stdout);
    run_hook("DRIVER_AFTER_START", init);
  }
  if (init > 0) {
    if (waitpid(init, &st, 0) == init) status("init", init, st);
    else perror("waitpid init");
  }
  return 0;
}
