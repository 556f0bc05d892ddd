// Where the front end finds the rest of ocirun, and which daemon socket is
// its own: everything is derived from where this binary is and from the
// caller's identity, never from the daemon.
#pragma once
#include <string>
#include <vector>

namespace ocirun::frontend {

struct Install {
  std::string build_dir;  // <package>/build/Release: this binary and ocirun-init
  std::string package;    // the package root: bin/ocirun-node, dist/daemon/main.js
  std::string helper() const { return build_dir + "/ocirun-init"; }
  std::string node_cli() const { return package + "/bin/ocirun-node"; }
  std::string daemon_script() const { return package + "/dist/daemon/main.js"; }
};

bool FindInstall(Install* out);

// ROOT_STATE_ROOT of src/rootless/mode.ts (a unit test compares them).
constexpr const char* kRootStateRoot = "/run/ocirun";

// defaultStateRoot() of src/rootless/mode.ts, the one rule (an integration
// test runs both in the same worlds): /run/ocirun for root, or
// $XDG_RUNTIME_DIR/ocirun without root, and for root of a user namespace
// that owns it. Empty without root and without XDG_RUNTIME_DIR: the Node CLI
// then says what to set.
std::string DefaultStateRoot();

// The state root the call names (--root before the command, else
// DefaultStateRoot()), absolute against cwd and normalised; empty when there
// is none.
std::string StateRoot(const std::vector<std::string>& args, const std::string& cwd);

// True when the call asks for no daemon (OCIRUN_ENGINE=off, or --no-engine
// among the global flags).
bool EngineOff(const std::vector<std::string>& args);

// True when the call is one the daemon runs (a command of DAEMON_COMMANDS in
// src/cli/main.ts, or --version): the others (help, unpack, events) keep a
// process of their own and go straight to the Node CLI.
bool ForDaemon(const std::vector<std::string>& args);

// <root>/@engine: "@" is not allowed in container IDs, so this never clashes.
std::string EngineDir(const std::string& root);

// <engine dir>/<build>-<uid>-<namespaces>.sock, the namespaces hashed from the
// inodes of /proc/self/ns/{mnt,user,pid,net,cgroup,ipc,uts}. Empty when they
// cannot be read (then there is no daemon to share).
std::string SocketPath(const std::string& engine_dir);

}  // namespace ocirun::frontend
