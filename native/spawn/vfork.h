// Starting a child the way posix_spawn does, shared by the init helper's
// start (spawn/child.cc) and the runtime's hooks (spawn/hook.cc): the child
// shares our memory (CLONE_VM) on a stack of its own while the calling thread
// waits for its exec (CLONE_VFORK). A plain fork would copy the page tables of
// all of Node's heap and make every page Node then writes fault once:
// measured ~2 ms of CPU per container (docs/performance.md).
#pragma once
#include <sys/types.h>

#include "spawn/fd.h"
#include "spawn/syserror.h"

namespace ocirun {

// Runs fn(arg) in the new child with every signal blocked (the child inherits
// the mask, so no handler of ours runs there before it has reset them); the
// child may make raw system calls only. Returns once it has exec'd or exited.
// clone(), not clone3: seccomp profiles (Docker's default among them) answer
// ENOSYS for clone3. *pidfd is -1 when the kernel gave none.
bool CloneVfork(int (*fn)(void*), void* arg, pid_t* pid, UniqueFd* pidfd, const char* what, SysError* err);

// Child side. exec keeps ignored dispositions (Node ignores SIGPIPE) and the
// mask: every signal back to SIG_DFL, by raw syscall (glibc hides 32/33).
void ChildResetSignals();
void ChildUnblockSignals();

}  // namespace ocirun
