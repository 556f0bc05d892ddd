{
  "variables": {
    # The helper- and hook-spawning library (native/spawn): linked into the addon and the front end.
    "spawn_sources": [
      "native/spawn/memfd.cc",
      "native/spawn/child.cc",
      "native/spawn/records.cc",
      "native/spawn/pidfd_of.cc",
      "native/spawn/spawn.cc",
      "native/spawn/hook.cc",
      "native/spawn/vfork.cc"
    ]
  },
  "targets": [
    {
      # The Node addon: spawns the init helper, waits for exits, small fs helpers.
      "target_name": "ocirun_native",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/errors.cc",
        "<@(spawn_sources)",
        "native/addon/spawn.cc",
        "native/addon/exitwatch.cc",
        "native/addon/pidfd.cc",
        "native/addon/fsops.cc",
        "native/addon/terminal.cc",
        "native/addon/execwait.cc",
        "native/addon/hookgate.cc",
        "native/addon/bpf.cc",
        "native/addon/engine.cc",
        "native/addon/hook.cc",
        "native/engine/peer.cc",
        "native/engine/wire.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags_cc": ["-std=c++20", "-fvisibility=hidden", "-fstack-protector-strong", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"]
    },
    {
      # The single-threaded init helper: namespaces, mounts, pivot_root, credentials, exec.
      # Linked statically so that it runs from a sealed memfd with no loader and stays tiny.
      "target_name": "ocirun-init",
      "type": "executable",
      "sources": [
        "native/init/main.cc",
        "native/init/msg.cc",
        "native/init/ns.cc",
        "native/init/pathres.cc",
        "native/init/mounts.cc",
        "native/init/devices.cc",
        "native/init/pivot.cc",
        "native/init/harden.cc",
        "native/init/creds.cc",
        "native/init/exec.cc",
        "native/init/proc_ctl.cc",
        "native/init/hooks.cc",
        "native/init/idmap.cc",
        "native/init/copyup.cc",
        "native/init/console.cc",
        "native/init/exec_mode.cc",
        "native/init/process_attrs.cc",
        "native/init/apparmor.cc",
        "native/init/selinux.cc",
        "native/init/seccomp.cc",
        "native/init/seccomp_cache.cc",
        "native/init/timing.cc",
        "native/init/cgroup.cc",
        "native/init/plan_json.cc",
        "native/init/plan_schema.cc",
        "native/init/usermaps.cc",
        "native/init/network.cc"
      ],
      "include_dirs": ["native"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-std=c++20", "-Os", "-fno-exceptions", "-fno-rtti", "-fstack-protector-strong", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-static", "-Wl,--gc-sections"],
      # libseccomp.a (Debian libseccomp-dev): compiles the seccomp profile to BPF.
      "libraries": ["-lseccomp"]
    },
    {
      # ocirun, the command engines run: hands each call to the resident daemon
      # (src/daemon) and starts the init helper itself. Static, no Node.
      "target_name": "ocirun",
      "type": "executable",
      "sources": [
        "<@(spawn_sources)",
        "native/engine/wire.cc",
        "native/frontend/main.cc",
        "native/frontend/paths.cc",
        "native/frontend/daemon_link.cc",
        "native/frontend/call.cc"
      ],
      # build/gen/build-config.h: the build id, from scripts/build-id.mjs (run by npm's install and build).
      "include_dirs": ["native", "<(module_root_dir)/build/gen"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-std=c++20", "-O2", "-fno-rtti", "-fstack-protector-strong", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"],
      "ldflags": ["-static", "-Wl,--gc-sections"]
    }
  ]
}
