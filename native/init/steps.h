// The steps main.cc strings together, one group per kernel concern. Each
// returns false after recording a failure with fail() (see msg.h).
#pragma once
#include <sys/types.h>
#include <string>
#include <vector>

#include "init/plan.h"

namespace ocirun::init {

// ns.cc: stage 0, in the runtime's namespaces.
bool join_namespaces(const Plan& plan);
bool setup_time_namespace(const Plan& plan);
// clone3 with CLONE_PARENT|CLONE_PIDFD and the new namespaces. Returns the pid
// (0 in the child, like fork) or -1 after recording a failure.
pid_t clone_init(const Plan& plan, int* pidfd);
bool write_id_maps(const Plan& plan, pid_t pid);
// Stage 1: become root of the new user namespace.
bool become_userns_root();

// pivot.cc
bool prepare_root(const Plan& plan, int* rootfd);
bool pivot(const Plan& plan, int rootfd);
bool finalize_root(const Plan& plan);

// mounts.cc / devices.cc: before pivot, against the rootfs fd.
bool do_mounts(const Plan& plan, int rootfd);
bool create_devices(const Plan& plan, int rootfd);
bool create_symlinks(const Plan& plan, int rootfd);

// harden.cc: after pivot, against the new "/".
bool write_sysctls(const Plan& plan);
bool readonly_paths(const Plan& plan);
bool mask_paths(const Plan& plan);

// creds.cc
bool apply_oom_score_adj(const Process& p);
bool apply_rlimits(const Process& p);
bool apply_credentials(const Process& p);  // after start: failures go to stderr

// exec.cc
std::vector<int> inherited_extra_fds();  // call first thing in main()
bool enter_cwd(const Process& p);
bool find_executable(const Process& p, std::string* path);
bool wait_for_start(int statedirfd);
[[noreturn]] void exec_user(const Process& p, const std::string& path, const std::vector<int>& extra);

}  // namespace ocirun::init
