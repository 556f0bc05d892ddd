{
  "targets": [
    {
      # The Node addon: spawns the init helper, waits for exits, small fs helpers.
      "target_name": "ocirun_native",
      "sources": [
        "native/addon/addon.cc",
        "native/addon/errors.cc",
        "native/addon/memfd.cc",
        "native/addon/child.cc",
        "native/addon/records.cc",
        "native/addon/spawn.cc",
        "native/addon/exitwatch.cc",
        "native/addon/pidfd.cc",
        "native/addon/fsops.cc",
        "native/addon/terminal.cc",
        "native/addon/execwait.cc",
        "native/addon/hookgate.cc",
        "native/addon/bpf.cc"
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
        "native/init/seccomp.cc",
        "native/init/seccomp_cache.cc",
        "native/init/timing.cc",
        "native/init/cgroup.cc",
        "native/init/plan_json.cc",
        "native/init/plan_schema.cc"
      ],
      "include_dirs": ["native"],
      "defines": ["_GNU_SOURCE"],
      "cflags_cc": ["-std=c++20", "-Os", "-fno-exceptions", "-fno-rtti", "-fstack-protector-strong", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-static", "-Wl,--gc-sections"],
      # libseccomp.a (Debian libseccomp-dev): compiles the seccomp profile to BPF.
      "libraries": ["-lseccomp"]
    }
  ]
}
