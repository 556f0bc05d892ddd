// ocirun: the command engines run. A small static program that hands the
// call to the resident daemon (src/daemon), which runs the TypeScript CLI,
// and does here only what must happen in the caller's process: start the
// init helper (so the container is the caller's child, in its cgroup, with
// its rlimits and terminal), wait for it, and forward its signals. With no
// daemon to be had, or OCIRUN_ENGINE=off, it runs the Node CLI instead.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "build-config.h"  // OCIRUN_NODE
#include "frontend/call.h"
#include "frontend/daemon_link.h"
#include "frontend/paths.h"

using namespace ocirun::frontend;

namespace {

void Debug(const std::string& what) {
  const char* d = getenv("OCIRUN_ENGINE_DEBUG");
  if (d && *d) dprintf(2, "ocirun engine: %s\n", what.c_str());
}

[[noreturn]] void RunNodeCli(const Install& install, char** argv) {
  std::vector<const char*> args = {OCIRUN_NODE, nullptr};
  std::string cli = install.node_cli();
  args[1] = cli.c_str();
  for (char** a = argv + 1; *a; a++) args.push_back(*a);
  args.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execv(OCIRUN_NODE, const_cast<char* const*>(args.data()));
  dprintf(2, "ocirun: cannot run %s: %s\n", OCIRUN_NODE, strerror(errno));
  _exit(127);
}

}  // namespace

int main(int argc, char** argv) {
  Install install;
  if (!FindInstall(&install)) {
    dprintf(2, "ocirun: cannot find its own installation (/proc/self/exe): %s\n", strerror(errno));
    return 1;
  }
  std::vector<std::string> args(argv + 1, argv + argc);
  char cwd_buf[4096];
  bool have_cwd = getcwd(cwd_buf, sizeof cwd_buf) != nullptr;
  // First, so a test can compare it with the Node CLI's in any world, engine off.
  std::string root = have_cwd ? StateRoot(args, cwd_buf) : std::string();
  Debug(root.empty() ? "no state root (not root, no --root, no XDG_RUNTIME_DIR)" : "state root " + root);
  if (EngineOff(args) || !ForDaemon(args)) RunNodeCli(install, argv);
  // No root of its own: the Node CLI says what to set (or needs none, as spec).
  if (root.empty()) RunNodeCli(install, argv);
  std::string engine_dir = EngineDir(root);
  std::string socket = SocketPath(engine_dir);
  if (socket.empty()) RunNodeCli(install, argv);

  // Twice at most: a daemon that closed the connection before taking the call
  // (it was exiting idle) did nothing, so a fresh one may have it.
  for (int attempt = 0; attempt < 2; attempt++) {
    std::string why;
    int sock = ConnectDaemon(install, engine_dir, socket, true, &why);
    if (sock < 0) {
      Debug(why);
      break;
    }
    int code = 1;
    CallEnd end = RunCall(sock, install, args, &code, &why);
    if (end == CallEnd::kExit) {
      if (!why.empty()) dprintf(2, "ocirun: %s (daemon log: %s/daemon.log)\n", why.c_str(), engine_dir.c_str());
      return code;
    }
    close(sock);
    Debug(why);
    if (end == CallEnd::kFallback) break;
  }
  RunNodeCli(install, argv);
}
