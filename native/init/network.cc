// The loopback interface of a new network namespace. The kernel creates it
// down; runc brings it up (specconv gives every new network namespace a
// "loopback" network), so a container can talk to 127.0.0.1 from the start.
// A namespace joined by path is someone else's to configure: left as it is.
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "init/fd.h"
#include "init/msg.h"
#include "init/steps.h"

namespace ocirun::init {

bool bring_up_loopback(const Plan& plan) {
  if (!(plan.new_namespaces() & CLONE_NEWNET)) return true;
  // Made here, in the new namespace: SIOCSIFFLAGS acts on the socket's
  // namespace and asks for CAP_NET_ADMIN in the user namespace that owns it.
  Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return fail(errno, "socket", "", "bring up loopback: open a socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(sock.get(), SIOCGIFFLAGS, &ifr) < 0) return fail(errno, "ioctl", "lo", "bring up loopback: read the flags of");
  if (ifr.ifr_flags & IFF_UP) return true;
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(sock.get(), SIOCSIFFLAGS, &ifr) < 0) return fail(errno, "ioctl", "lo", "bring up loopback: set");
  debug("loopback up");
  return true;
}

}  // namespace ocirun::init
