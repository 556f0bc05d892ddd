// On-disk entries of the compiled-filter cache (see seccomp_cache.h). The key
// is the planner's hash of the rules, this helper binary and the kernel
// release, so an entry never outlives what produced it. Since a loaded entry
// becomes the container's filter, the directory must be ours and closed to
// everyone else, and entries are opened without following links.
#include "init/seccomp_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init/fd.h"
#include "init/msg.h"

namespace ocirun::init {

namespace {

constexpr char kMagic[8] = {'O', 'C', 'I', 'S', 'C', 'F', '0', '1'};
constexpr uint32_t kMaxInsns = BPF_MAXINSNS;
constexpr uint32_t kMaxUnknown = 1 << 16;

struct Header {
  char magic[8];
  uint32_t notify;
  uint32_t unknown_len;  // bytes of names after the header
  uint32_t insns;        // sock_filter entries after the names
  uint32_t zero;
  uint64_t checksum;     // FNV-1a over names and program: catches a damaged file
};
static_assert(sizeof(Header) == 32, "cache header layout");

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

uint64_t checksum(const std::string& unknown, const std::vector<sock_filter>& prog) {
  uint64_t h = fnv1a(0xcbf29ce484222325ull, unknown.data(), unknown.size());
  return fnv1a(h, prog.data(), prog.size() * sizeof(sock_filter));
}

// The cache directory, created if missing, only if it is ours alone.
int open_dir(const std::string& path) {
  if (mkdir(path.c_str(), 0700) < 0 && errno != EEXIST) return -1;
  Fd dir(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (dir.get() < 0 || fstat(dir.get(), &st) < 0) return -1;
  if (st.st_uid != geteuid() || (st.st_mode & 077)) {
    debug("seccomp cache %s ignored: not private to uid %u", path.c_str(), geteuid());
    return -1;
  }
  return dir.release();
}

bool read_exact(int fd, void* buf, size_t n) {
  auto* p = static_cast<uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

}  // namespace

bool seccomp_cache_load(const Seccomp& sc, CompiledFilter* out) {
  if (sc.cache_key.empty()) return false;
  Fd dir(open_dir(sc.cache_dir));
  if (dir.get() < 0) return false;
  Fd fd(openat(dir.get(), sc.cache_key.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  Header h;
  if (fd.get() < 0 || fstat(fd.get(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) return false;
  if (!read_exact(fd.get(), &h, sizeof h) || memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.zero != 0 ||
      h.insns == 0 || h.insns > kMaxInsns || h.unknown_len > kMaxUnknown ||
      static_cast<uint64_t>(st.st_size) != sizeof h + h.unknown_len + uint64_t{h.insns} * sizeof(sock_filter))
    return false;
  CompiledFilter f;
  f.notify = h.notify != 0;
  f.unknown.resize(h.unknown_len);
  f.program.resize(h.insns);
  if (!read_exact(fd.get(), f.unknown.data(), f.unknown.size()) ||
      !read_exact(fd.get(), f.program.data(), f.program.size() * sizeof(sock_filter)) ||
      checksum(f.unknown, f.program) != h.checksum) {
    debug("seccomp cache entry %s is damaged, compiling", sc.cache_key.c_str());
    return false;
  }
  *out = std::move(f);
  return true;
}

void seccomp_cache_store(const Seccomp& sc, const CompiledFilter& f) {
  if (sc.cache_key.empty() || f.unknown.size() > kMaxUnknown) return;
  Fd dir(open_dir(sc.cache_dir));
  if (dir.get() < 0) return;
  Header h{};
  memcpy(h.magic, kMagic, sizeof kMagic);
  h.notify = f.notify;
  h.unknown_len = static_cast<uint32_t>(f.unknown.size());
  h.insns = static_cast<uint32_t>(f.program.size());
  h.checksum = checksum(f.unknown, f.program);
  std::string bytes(reinterpret_cast<const char*>(&h), sizeof h);
  bytes += f.unknown;
  bytes.append(reinterpret_cast<const char*>(f.program.data()), f.program.size() * sizeof(sock_filter));
  // Written aside and renamed into place: readers see a whole entry or none.
  std::string tmp = sc.cache_key + "." + std::to_string(getpid()) + ".tmp";
  Fd fd(openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return;
  bool ok = write_all(fd.get(), bytes.data(), bytes.size());
  fd.reset();
  if (!ok || renameat(dir.get(), tmp.c_str(), dir.get(), sc.cache_key.c_str()) < 0) unlinkat(dir.get(), tmp.c_str(), 0);
}

}  // namespace ocirun::init
