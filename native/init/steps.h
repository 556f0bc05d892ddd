// The steps main.cc strings together, one group per kernel concern. Each
// returns false after recording a failure with fail() (see msg.h).
#pragma once
#include <sys/types.h>
#include <string>
#include <vector>

#include "init/plan.h"

namespace ocirun::init {

// ns.cc: stage 0, in the runtime's namespaces.
// One write(2) of data to a /proc file that takes only one (id maps, time offsets).
bool write_once(const std::string& path, const std::string& data, const char* what);
bool join_namespaces(const Plan& plan);
bool setup_time_namespace(const Plan& plan);
// clone3 with CLONE_PARENT|CLONE_PIDFD and the new namespaces (and
// CLONE_INTO_CGROUP when cgroup_fd >= 0). Returns the pid (0 in the child,
// like fork) or -1 after recording a failure.
pid_t clone_init(const Plan& plan, int* pidfd, int cgroup_fd = -1);

// usermaps.cc: stage 0 maps the new user namespace (directly or through
// newuidmap/newgidmap); stage 1 becomes its root.
bool write_id_maps(const Plan& plan, pid_t pid);
bool become_userns_root();
// setgroups(2) is denied in our user namespace (/proc/self/setgroups).
bool setgroups_denied();

// network.cc: in the init, in its new network namespace (if any).
bool bring_up_loopback(const Plan& plan);

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
bool check_plan_ids(const Plan& plan);  // first thing after decoding the plan
bool apply_oom_score_adj(const Process& p);
bool apply_rlimits(const Process& p);
bool apply_credentials(const Process& p);  // after start: failures go to stderr

// process_attrs.cc: initial affinity first thing in stage 0, the rest at
// create time after the rlimits, final affinity right before execve.
bool apply_initial_affinity(const Process& p);
bool apply_process_attrs(const Process& p);  // personality, scheduler, I/O priority
bool apply_final_affinity(const Process& p);

// apparmor.cc: after start, before seccomp.
bool apply_apparmor(const Process& p);
// selinux.cc: with AppArmor's, the label the user program's execve switches to.
bool apply_selinux_label(const Process& p);

// seccomp.cc: connect and compile in stage 0 (host paths and credentials),
// note the pid in the init before pivot_root, load after start as the last
// step before exec_user.
bool connect_seccomp_listener(const Process& p);
// The filter cache (SC_CACHE_DIR) is a host path: call this before joining
// any namespace, or plan without a cache.
bool prepare_seccomp(const Process& p);
// The pid the listener is told: `pid` when known, else /proc/self, which must
// still be the runtime's procfs.
bool note_seccomp_pid(const Process& p, pid_t pid = 0);
// `extra`: the fds passed to the user program (inherited_extra_fds), kept open.
bool load_seccomp(const Process& p, const std::vector<int>& extra = {});

// hooks.cc: create_hooks after mounts and devices, before pivot_root (pauses
// for the runtime's hooks first when the plan says so); start_hooks from
// wait_for_start, answering `start` on the fifo ("0" or "E<message>").
bool create_hooks(const Plan& plan);
bool start_hooks(const Plan& plan, int fifo);

// idmap.cc: stage 0, before joining anything, clones and id-maps the sources
// of idmap mounts; the init's one_mount attaches each clone on its target.
bool prepare_idmap_mounts(const Plan& plan);
bool attach_idmap_mount(const Mount& m, int target);

// copyup.cc: tmpcopyup, copying what a directory held into the tmpfs now on it.
bool copy_up(int from_dir, int to_dir, const std::string& dest);

// exec.cc
std::vector<int> inherited_extra_fds();  // call first thing in main()
bool enter_cwd(const Process& p);
bool find_executable(const Process& p, std::string* path);
bool wait_for_start(int statedirfd, const Plan& plan);
// Removes fd from the inherited extras (it is the helper's, not the container's).
bool take_inherited_fd(std::vector<int>* extra, int fd);
// report_fd >= 0 (above every extra): failures go there as MSG_ERROR, and it
// stays open, close-on-exec, so the runtime sees EOF exactly when execve succeeded.
[[noreturn]] void exec_user(const Process& p, const std::string& path, const std::vector<int>& extra,
                            int report_fd = -1);

// console.cc: the terminal, after pivot_root (create) or in the joined mount
// namespace (exec), by a session leader so the slave can become its
// controlling terminal; /dev/console is bound to it only for create.
bool setup_console(const Plan& plan, bool bind_dev_console);
// Right before apply_credentials: runc's fixStdioPermissions.
bool fix_stdio_ownership(const Process& p);

// cgroup.cc: open_cgroups first thing in stage 0; clone_init takes
// cgroup_dir_fd(); place_init before the init is released; once released,
// the init moves itself through the v1 tasks files (move_self), closes them
// and makes its cgroup namespace (when new) once it is in place. exec's
// stage 0 opens, moves itself and places its own pid, then clones with
// cgroup_dir_fd() (exec_mode.cc).
bool open_cgroups(const Plan& plan);
int cgroup_dir_fd();
bool place_init(const Plan& plan, pid_t pid);
bool move_self(const Plan& plan);
// MSG_HOOKS on fd 3, then the runtime's answer: false (after fail) when it is not 'h'.
bool pause_for_runtime(const char* why);
void close_cgroups();
bool enter_cgroup_namespace(const Plan& plan);

// proc_ctl.cc: die with the runtime (its pidfd covers the time before the
// signal was armed; credential changes clear it, so arm again after them),
// and give a program default signal dispositions and an empty mask.
void arm_parent_death(int parent_pidfd);
// The start of every child stage 0 clones: tie to the runtime, turn
// non-dumpable, and wait for stage 0's 'g' on sync (exits if it never comes).
// An unprivileged stage 0 (or newuidmap) can open /proc/<pid>/uid_map only of
// a dumpable process: an init alone in a new user namespace turns
// non-dumpable once mapped, which is before anything else can be in it.
void await_release(int sync, int parent_pidfd, bool dumpable_until_released = false);
void reset_signals();

// exec_mode.cc: `ocirun exec` (a plan of mode "exec"). Never returns.
[[noreturn]] void exec_main(const Plan& plan, std::vector<int> extra);

}  // namespace ocirun::init
