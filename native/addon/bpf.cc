// attachDeviceFilter: the cgroup v2 device allow-list. The program itself is
// built in TypeScript (src/cgroups/devices.ts) as plain bpf_insn bytes; here
// it is only loaded (BPF_PROG_TYPE_CGROUP_DEVICE) and attached to the
// container's cgroup with BPF_F_ALLOW_MULTI, as runc does, so that programs
// on ancestors (systemd's) keep applying too. The attachment lives as long as
// the cgroup; our fds are closed right away.
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "addon/addon.h"
#include "addon/errors.h"
#include "spawn/fd.h"

namespace ocirun {
namespace {

long Bpf(int cmd, bpf_attr* attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

Napi::Value AttachDeviceFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir = ArgString(info, 0, "cgroupDir");
  if (info.Length() < 2 || !info[1].IsBuffer()) ThrowTypeError(env, "The \"insns\" argument must be a Buffer");
  auto insns = info[1].As<Napi::Buffer<uint8_t>>();
  if (insns.Length() == 0 || insns.Length() % sizeof(bpf_insn) != 0 || insns.Length() / sizeof(bpf_insn) > BPF_MAXINSNS)
    ThrowTypeError(env, "The \"insns\" argument must hold 1 to 4096 whole bpf_insn records", "ERR_INVALID_ARG_VALUE");

  UniqueFd cgroup(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup.valid()) ThrowErrno(env, errno, "open", dir);

  // Aligned copy: the Buffer may sit at any offset of its ArrayBuffer.
  std::vector<bpf_insn> prog(insns.Length() / sizeof(bpf_insn));
  memcpy(prog.data(), insns.Data(), insns.Length());
  static const char kLicense[] = "Apache";
  std::vector<char> log(64 * 1024);
  bpf_attr load{};
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insn_cnt = static_cast<uint32_t>(prog.size());
  load.insns = reinterpret_cast<uint64_t>(prog.data());
  load.license = reinterpret_cast<uint64_t>(kLicense);
  load.log_level = 1;
  load.log_size = static_cast<uint32_t>(log.size());
  load.log_buf = reinterpret_cast<uint64_t>(log.data());
  strncpy(load.prog_name, "ocirun_devices", sizeof load.prog_name - 1);
  UniqueFd progfd(static_cast<int>(Bpf(BPF_PROG_LOAD, &load)));
  if (!progfd.valid()) {
    int err = errno;
    // The verifier's last line says why; it travels as the message.
    std::string why(log.data(), strnlen(log.data(), log.size()));
    while (!why.empty() && why.back() == '\n') why.pop_back();
    size_t nl = why.rfind('\n');
    if (nl != std::string::npos) why = why.substr(nl + 1);
    SysError e = SysError::Errno(err, "bpf", dir, why.empty() ? "load device filter" : "load device filter: " + why);
    throw MakeSystemError(env, e);
  }

  bpf_attr attach{};
  attach.target_fd = static_cast<uint32_t>(cgroup.get());
  attach.attach_bpf_fd = static_cast<uint32_t>(progfd.get());
  attach.attach_type = BPF_CGROUP_DEVICE;
  attach.attach_flags = BPF_F_ALLOW_MULTI;
  if (Bpf(BPF_PROG_ATTACH, &attach) < 0) ThrowErrno(env, errno, "bpf", dir);
  return env.Undefined();
}

}  // namespace

void RegisterBpf(Napi::Env env, Napi::Object exports) {
  exports.Set("attachDeviceFilter", Napi::Function::New(env, AttachDeviceFilter, "attachDeviceFilter"));
}

}  // namespace ocirun
