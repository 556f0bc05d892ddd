// The process's terminal (process.terminal) and the ownership of its stdio.
//
// The pty comes from the container's own devpts instance, after pivot_root,
// so its number and permissions belong to the container. The master goes to
// the console socket the runtime connected for us, in runc's form: one
// sendmsg() whose payload is the master's name and whose SCM_RIGHTS carries
// the fd, no reply expected. The slave becomes stdio 0-2 and the controlling
// terminal of the process's session.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <string>

#include "init/fd.h"
#include "init/msg.h"
#include "init/pathres.h"
#include "init/steps.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef DEVPTS_SUPER_MAGIC
#define DEVPTS_SUPER_MAGIC 0x1cd1
#endif

namespace ocirun::init {

namespace {

// runc 1.1 sends the name of the file it opened the master from; engines
// (conmon, containerd's go-runc, runc's recvtty) ignore it.
constexpr const char* kMasterName = "/dev/ptmx";

// A ptmx that is not a devpts ptmx (a device node or symlink planted in the
// rootfs) could hand us a host terminal or something worse.
bool check_ptmx(int fd) {
  struct statfs fs;
  struct stat st;
  if (fstatfs(fd, &fs) < 0 || fstat(fd, &st) < 0) return fail(errno, "fstat", "/dev/pts/ptmx", "inspect");
  if (static_cast<unsigned long>(fs.f_type) != DEVPTS_SUPER_MAGIC || !S_ISCHR(st.st_mode) ||
      major(st.st_rdev) != 5 || minor(st.st_rdev) != 2)
    return fail_msg(EPERM, "open", "/dev/pts/ptmx", "/dev/pts/ptmx is not the ptmx of a devpts mount");
  return true;
}

bool send_master(int sock, int master) {
  ssize_t n = send_with_fd(sock, kMasterName, strlen(kMasterName), master);
  if (n < 0) return fail(errno, "sendmsg", "", "send terminal master to console socket");
  return true;
}

// runc's mountConsole: programs that write to /dev/console (init systems,
// the kernel's printk target for the container) reach the container's pty.
bool mount_console(const std::string& slave_name) {
  Fd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.get() < 0) return fail(errno, "open", "/", "open root");
  // Through the fd of /dev/console itself: a symlink there (the CVE-2025-52565
  // class) is refused, not followed to whatever file it names.
  Fd target(mkpath_nofollow_in_root(root.get(), "/dev/console", Leaf::File));
  if (target.get() < 0) return false;
  struct stat st;
  if (fstat(target.get(), &st) < 0) return fail(errno, "fstat", "/dev/console", "inspect");
  if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
    return fail_msg(EEXIST, "mount", "/dev/console", "/dev/console in the rootfs is neither a file nor a device, refusing to mount the terminal on it");
  if (mount(slave_name.c_str(), fd_path(target.get()).c_str(), nullptr, MS_BIND, nullptr) < 0)
    return fail(errno, "mount", "/dev/console", "bind terminal onto");
  return true;
}

}  // namespace

bool setup_console(const Plan& plan, bool bind_dev_console) {
  Fd master(open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (master.get() < 0) return fail(errno, "open", "/dev/pts/ptmx", "allocate a terminal through");
  if (!check_ptmx(master.get())) return false;
  int unlock = 0;
  if (ioctl(master.get(), TIOCSPTLCK, &unlock) < 0) return fail(errno, "ioctl", "", "unlock terminal");
  unsigned int n = 0;
  if (ioctl(master.get(), TIOCGPTN, &n) < 0) return fail(errno, "ioctl", "", "read terminal number");
  const std::string slave_name = "/dev/pts/" + std::to_string(n);
  // TIOCGPTPEER: the slave of exactly this master, whatever /dev/pts/N names now.
  Fd slave(ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (slave.get() < 0) return fail(errno, "ioctl", slave_name, "open terminal");
  if (plan.console_rows != 0 && plan.console_cols != 0) {
    winsize ws{};
    ws.ws_row = static_cast<unsigned short>(plan.console_rows);
    ws.ws_col = static_cast<unsigned short>(plan.console_cols);
    if (ioctl(master.get(), TIOCSWINSZ, &ws) < 0) return fail(errno, "ioctl", "", "set terminal size");
  }
  if (bind_dev_console && !mount_console(slave_name)) return false;
  if (!send_master(plan.console_fd, master.get())) return false;
  close(plan.console_fd);
  for (int fd = 0; fd < 3; fd++)
    if (dup2(slave.get(), fd) < 0) return fail(errno, "dup2", slave_name, "make terminal the stdio of");
  // Needs a session leader without a terminal: the caller did setsid().
  if (ioctl(0, TIOCSCTTY, 0) < 0) return fail(errno, "ioctl", slave_name, "make controlling terminal");
  return true;
}

bool fix_stdio_ownership(const Process& p) {
  // runc's fixStdioPermissions: a non-root user must be able to reopen its own
  // stdio (/dev/stdout, /proc/self/fd/1), which root created.
  struct stat null;
  if (stat("/dev/null", &null) < 0) return fail(errno, "stat", "/dev/null", "inspect");
  for (int fd = 0; fd < 3; fd++) {
    struct stat st;
    if (fstat(fd, &st) < 0) return fail(errno, "fstat", "", "inspect stdio");
    if (st.st_uid == p.uid || (S_ISCHR(st.st_mode) && st.st_rdev == null.st_rdev)) continue;
    // Not ours to change (an unmapped owner, a read-only /dev): leave it as it is.
    if (fchown(fd, p.uid, static_cast<gid_t>(-1)) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
      return fail(errno, "fchown", "", "hand stdio to the process user");
  }
  return true;
}

}  // namespace ocirun::init
