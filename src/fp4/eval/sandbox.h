// Runs untrusted Python (a model's HumanEval completion with its tests) in a child process that cannot
// hurt the machine it runs on:
//
//   * time: RLIMIT_CPU (the kernel kills a CPU hog) and a wall-clock deadline after which the whole
//     process group is killed (a program that sleeps or waits);
//   * memory: RLIMIT_AS (allocations beyond it fail: Python raises MemoryError);
//   * processes: RLIMIT_NPROC for an otherwise unused uid (the program runs as "nobody" when started as
//     root, whose process limit the kernel does not enforce), so a fork bomb's fork() fails; the session
//     and process group are new, and every process in it is killed when the run ends;
//   * files: a fresh temporary directory as working directory and HOME (removed afterwards), RLIMIT_FSIZE,
//     RLIMIT_NOFILE, no core dumps;
//   * network: a new, empty network namespace (unshare(CLONE_NEWUSER | CLONE_NEWNET): not even loopback is
//     up) where the kernel allows it, and in every case a seccomp filter that makes socket(AF_INET /
//     AF_INET6) fail with EACCES;
//   * environment: scrubbed (PATH, HOME, TMPDIR, LANG only), python3 -I (no user site, no PYTHON* vars),
//     stdin from /dev/null.
//
// Linux only. The caller may run several sandboxes concurrently from different threads.
#pragma once

#include <cstdint>
#include <string>

namespace fp4::eval {

struct SandboxLimits {
  double cpu_seconds = 10.0;                     // RLIMIT_CPU (rounded up to whole seconds)
  double wall_seconds = 20.0;                    // then the process group is killed
  int64_t address_space_bytes = int64_t{1} << 30;  // RLIMIT_AS
  int64_t max_processes = 32;                    // RLIMIT_NPROC for the sandbox uid
  int64_t max_file_bytes = int64_t{16} << 20;    // RLIMIT_FSIZE
  size_t max_output_bytes = 64 * 1024;           // stdout + stderr kept (the rest is read and dropped)
  // false: seccomp alone cuts the network off, as on kernels without unprivileged user namespaces.
  bool use_network_namespace = true;
};

enum class SandboxStatus {
  kPassed,    // exit status 0
  kFailed,    // a non-zero exit status (a failed assertion, an exception, MemoryError, ...)
  kTimeout,   // the wall-clock deadline passed
  kKilled,    // ended by a signal (SIGXCPU / SIGKILL at the CPU limit, SIGSEGV, ...)
};

struct SandboxResult {
  SandboxStatus status = SandboxStatus::kFailed;
  int exit_code = -1;      // when it exited
  int signal = 0;          // when a signal ended it
  std::string output;      // stdout and stderr interleaved, truncated to max_output_bytes
  std::string isolation;   // "netns+seccomp" or "seccomp": how the network was cut off
  double wall_seconds = 0.0;
};

std::string_view sandbox_status_name(SandboxStatus status);

// Runs `program` with python3. Throws fp4::Error only when the sandbox itself cannot be set up (no
// temporary directory, no python3, fork failed); whatever the program does is reported in the result.
SandboxResult run_python_sandboxed(const std::string& program, const SandboxLimits& limits = {});

// The interpreter the sandbox runs: /usr/bin/python3 or /usr/local/bin/python3 (a path that a
// dropped-privilege user can execute), else the first python3 on PATH.
std::string sandbox_python();

}  // namespace fp4::eval
