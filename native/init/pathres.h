// Resolution of container paths inside a root directory fd. Nothing here ever
// follows a symlink out of the root: either the kernel enforces it (openat2
// RESOLVE_IN_ROOT) or we walk one component at a time with O_NOFOLLOW and
// expand symlinks ourselves against the root.
#pragma once
#include <string>

namespace ocirun::init {

enum class Leaf { None, Dir, File };

// "/proc/self/fd/N": lets path-based syscalls (mount) act on exactly the
// object we resolved, so a concurrent symlink swap cannot redirect them.
std::string fd_path(int fd);

// openat2(rootfd, path, flags, RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS). Returns
// the fd or -1 with errno set; does not record a failure (callers decide
// whether ENOENT is an error).
int open_in_root(int rootfd, const std::string& path, int flags);

// Resolves path, creating missing directories (0755) and, per `leaf`, a missing
// final directory or empty file (0644). Returns an O_PATH fd or -1 after
// recording a failure that names `path`.
int mkpath_in_root(int rootfd, const std::string& path, Leaf leaf);

// Resolves (creating as directories) everything but the final component and
// returns an O_PATH fd of the parent; the final component goes to *leaf and is
// never followed. -1 after recording a failure.
int parent_in_root(int rootfd, const std::string& path, std::string* leaf);

// Like mkpath_in_root, but the final component is never followed: a symlink
// there is an error (ELOOP, recorded), whatever it points at. For the paths
// the runtime owns (/dev and what it puts there), where a link planted in the
// image would otherwise redirect a mount (the CVE-2025-52565 class).
int mkpath_nofollow_in_root(int rootfd, const std::string& path, Leaf leaf);

// Makes path a symlink to target. An identical link is kept; a different link
// is replaced only when `replace`; anything else is an error.
bool ensure_symlink(int rootfd, const std::string& path, const std::string& target, bool replace);

}  // namespace ocirun::init
