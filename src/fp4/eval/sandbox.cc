#include "fp4/eval/sandbox.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

#include "fp4/base/error.h"

namespace fp4::eval {
namespace {

#if defined(__x86_64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kAuditArch = AUDIT_ARCH_AARCH64;
#else
#error "the sandbox's seccomp filter knows x86_64 and aarch64 only"
#endif

constexpr uid_t kNobody = 65534;

// The seccomp program: socket(AF_INET | AF_INET6, ...) and io_uring_setup (which can open sockets) fail
// with EACCES; x32 system calls and a foreign architecture kill the process (they would bypass the
// number checks); everything else is allowed. A jump offset counts from the next instruction.
std::vector<sock_filter> seccomp_code() {
  return {
      /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kAuditArch, 0, 9),  // other arch → 11 kill
      /* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      /* 3 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 7, 0),  // x32 ABI → 11 kill
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 5, 0),  // → 10 deny
      /* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),  // not socket → 9 allow
      /* 6 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),  // the domain's low word (LE)
      /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 2, 0),  // → 10 deny
      /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 1, 0),  // → 10 deny
      /* 9 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      /* 10 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA)),
      /* 11 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
  };
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void set_limit(int resource, rlim_t soft, rlim_t hard) {
  const rlimit r{soft, hard};
  setrlimit(resource, &r);
}

// Whether a child (after dropping to nobody when root) may create a user + network namespace. Probed once.
bool network_namespace_available() {
  static std::once_flag once;
  static bool available = false;
  std::call_once(once, [] {
    const bool root = geteuid() == 0;
    const pid_t pid = fork();
    if (pid == 0) {
      if (root && (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setgid, kNobody) != 0 ||
                   syscall(SYS_setuid, kNobody) != 0)) {
        _exit(1);
      }
      _exit(unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 ? 0 : 1);
    }
    if (pid > 0) {
      int status = 0;
      waitpid(pid, &status, 0);
      available = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
  });
  return available;
}

// Everything the child needs, prepared before fork (the child of a multi-threaded parent may only make
// async-signal-safe calls: no allocation after fork).
struct ChildPlan {
  std::string python;
  std::string dir;
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;
  std::vector<sock_filter> filter;
  sock_fprog prog{};
  bool drop_to_nobody = false;
  bool use_netns = false;
  SandboxLimits limits;
};

[[noreturn]] void run_child(const ChildPlan& plan, int out_fd, int null_fd) {
  setsid();  // new session and process group: the parent kills the group
  dup2(null_fd, 0);
  dup2(out_fd, 1);
  dup2(out_fd, 2);
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
#endif
  {
    for (int fd = 3; fd < 4096; ++fd) close(fd);
  }
  if (chdir(plan.dir.c_str()) != 0) _exit(126);
  const auto& l = plan.limits;
  const rlim_t cpu = static_cast<rlim_t>(std::ceil(l.cpu_seconds));
  set_limit(RLIMIT_CPU, cpu, cpu + 1);  // SIGXCPU at the soft limit, SIGKILL one second later
  set_limit(RLIMIT_AS, static_cast<rlim_t>(l.address_space_bytes), static_cast<rlim_t>(l.address_space_bytes));
  set_limit(RLIMIT_FSIZE, static_cast<rlim_t>(l.max_file_bytes), static_cast<rlim_t>(l.max_file_bytes));
  set_limit(RLIMIT_NOFILE, 64, 64);
  set_limit(RLIMIT_CORE, 0, 0);
  set_limit(RLIMIT_NPROC, static_cast<rlim_t>(l.max_processes), static_cast<rlim_t>(l.max_processes));
  if (plan.drop_to_nobody) {
    if (syscall(SYS_setgroups, 0, nullptr) != 0 || syscall(SYS_setgid, kNobody) != 0 ||
        syscall(SYS_setuid, kNobody) != 0) {
      _exit(126);
    }
  }
  if (plan.use_netns && unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) _exit(126);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(126);
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &plan.prog) != 0) _exit(126);
  execve(plan.python.c_str(), plan.argv.data(), plan.envp.data());
  _exit(127);
}

}  // namespace

std::string_view sandbox_status_name(SandboxStatus status) {
  switch (status) {
    case SandboxStatus::kPassed: return "passed";
    case SandboxStatus::kFailed: return "failed";
    case SandboxStatus::kTimeout: return "timeout";
    case SandboxStatus::kKilled: return "killed";
  }
  return "?";
}

std::string sandbox_python() {
  for (const char* p : {"/usr/bin/python3", "/usr/local/bin/python3"}) {
    if (access(p, X_OK) == 0) return p;
  }
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (!rest.empty()) {
      const size_t colon = rest.find(':');
      const std::string candidate = std::string(rest.substr(0, colon)) + "/python3";
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  fail("sandbox: python3 not found (looked in /usr/bin, /usr/local/bin and PATH)");
}

SandboxResult run_python_sandboxed(const std::string& program, const SandboxLimits& limits) {
  ChildPlan plan;
  plan.limits = limits;
  plan.python = sandbox_python();
  plan.drop_to_nobody = geteuid() == 0;
  plan.use_netns = limits.use_network_namespace && network_namespace_available();

  const std::filesystem::path base = std::filesystem::temp_directory_path();
  std::string templ = (base / "fp4eval-XXXXXX").string();
  FP4_CHECK(mkdtemp(templ.data()) != nullptr, "sandbox: cannot create a temporary directory in {}: {}",
            base.string(), std::strerror(errno));
  plan.dir = templ;
  struct DirCleanup {
    std::string dir;
    ~DirCleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{plan.dir};
  {
    std::ofstream out(plan.dir + "/program.py", std::ios::binary);
    out << program;
    FP4_CHECK(out.good(), "sandbox: cannot write {}/program.py", plan.dir);
  }
  chmod(plan.dir.c_str(), 0700);
  if (plan.drop_to_nobody && chown(plan.dir.c_str(), kNobody, kNobody) != 0) {
    fail("sandbox: cannot hand {} to the sandbox user: {}", plan.dir, std::strerror(errno));
  }
  if (plan.drop_to_nobody) chown((plan.dir + "/program.py").c_str(), kNobody, kNobody);

  plan.argv_storage = {"python3", "-I", "-B", "program.py"};
  plan.env_storage = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + plan.dir, "TMPDIR=" + plan.dir,
                      "LANG=C.UTF-8", "PYTHONHASHSEED=0"};
  for (auto& s : plan.argv_storage) plan.argv.push_back(s.data());
  plan.argv.push_back(nullptr);
  for (auto& s : plan.env_storage) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);
  plan.filter = seccomp_code();
  plan.prog.len = static_cast<unsigned short>(plan.filter.size());
  plan.prog.filter = plan.filter.data();

  int pipe_fds[2];
  FP4_CHECK(pipe2(pipe_fds, O_CLOEXEC) == 0, "sandbox: pipe failed: {}", std::strerror(errno));
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  FP4_CHECK(null_fd >= 0, "sandbox: cannot open /dev/null");

  const double start = now_seconds();
  const pid_t pid = fork();
  if (pid == 0) run_child(plan, pipe_fds[1], null_fd);
  close(pipe_fds[1]);
  close(null_fd);
  if (pid < 0) {
    close(pipe_fds[0]);
    fail("sandbox: fork failed: {}", std::strerror(errno));
  }

  SandboxResult result;
  result.isolation = plan.use_netns ? "netns+seccomp" : "seccomp";
  bool timed_out = false, exited = false;
  int status = 0;
  char buf[4096];
  // Read output until the pipe closes (every process of the group gone) and the child is reaped; kill the
  // group at the deadline, and right after the child exits (leftover grandchildren keep the pipe open).
  while (true) {
    if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      kill(-pid, SIGKILL);
    }
    const double left = limits.wall_seconds - (now_seconds() - start);
    if (!exited && left <= 0 && !timed_out) {
      timed_out = true;
      kill(-pid, SIGKILL);
    }
    pollfd pfd{pipe_fds[0], POLLIN, 0};
    const int wait_ms = exited || timed_out ? 50 : static_cast<int>(std::min(50.0, std::max(1.0, left * 1000)));
    const int ready = poll(&pfd, 1, wait_ms);
    if (ready > 0) {
      const ssize_t n = read(pipe_fds[0], buf, sizeof buf);
      if (n > 0) {
        const size_t keep = std::min(static_cast<size_t>(n), limits.max_output_bytes - std::min(limits.max_output_bytes, result.output.size()));
        result.output.append(buf, keep);
        continue;
      }
      if (n == 0) {  // every writer closed
        if (!exited) {
          waitpid(pid, &status, 0);
          exited = true;
          kill(-pid, SIGKILL);
        }
        break;
      }
      if (errno != EINTR) break;
    } else if ((exited || timed_out) && now_seconds() - start > limits.wall_seconds + 5.0) {
      break;  // a process that survived SIGKILL (impossible short of a kernel hang): stop waiting
    }
    if (timed_out && !exited && waitpid(pid, &status, WNOHANG) == pid) exited = true;
  }
  close(pipe_fds[0]);
  if (!exited) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  result.wall_seconds = now_seconds() - start;
  if (timed_out) {
    result.status = SandboxStatus::kTimeout;
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
    result.status = result.exit_code == 0 ? SandboxStatus::kPassed : SandboxStatus::kFailed;
    if (result.exit_code == 126 || result.exit_code == 127) {
      result.output += "\n[sandbox: the child could not start python3 (setup step failed)]";
    }
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
    result.status = SandboxStatus::kKilled;
  }
  return result;
}

}  // namespace fp4::eval
