// The HumanEval sandbox: a correct program passes, a failing one fails, and the hostile ones (an infinite
// loop, a sleeper, a fork bomb, a memory hog, network access, writing outside the temporary directory)
// are stopped or refused. No assertion is on timing beyond "it ended" (the limits themselves end them).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "fp4/eval/sandbox.h"

namespace fp4::eval {
namespace {

SandboxLimits quick_limits() {
  SandboxLimits l;
  l.cpu_seconds = 2;
  l.wall_seconds = 6;
  l.address_space_bytes = int64_t{512} << 20;
  return l;
}

TEST(Sandbox, ReferenceSolutionPasses) {
  const auto r = run_python_sandboxed(
      "def add(a, b):\n    return a + b\n\n"
      "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n\n"
      "check(add)\nprint('ok')\n",
      quick_limits());
  EXPECT_EQ(r.status, SandboxStatus::kPassed) << r.output;
  EXPECT_EQ(r.output, "ok\n");
  EXPECT_FALSE(r.isolation.empty());
}

TEST(Sandbox, FailedAssertionFails) {
  const auto r = run_python_sandboxed("assert 1 + 1 == 3, 'arithmetic'\n", quick_limits());
  EXPECT_EQ(r.status, SandboxStatus::kFailed);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("AssertionError"), std::string::npos) << r.output;
}

TEST(Sandbox, InfiniteLoopIsStoppedByTheCpuLimit) {
  const auto r = run_python_sandboxed("while True:\n    pass\n", quick_limits());
  EXPECT_TRUE(r.status == SandboxStatus::kKilled || r.status == SandboxStatus::kTimeout)
      << sandbox_status_name(r.status);
}

TEST(Sandbox, SleeperIsStoppedAtTheWallClockDeadline) {
  SandboxLimits l = quick_limits();
  l.wall_seconds = 1;
  const auto r = run_python_sandboxed("import time\ntime.sleep(3600)\n", l);
  EXPECT_EQ(r.status, SandboxStatus::kTimeout);
}

TEST(Sandbox, ForkBombCannotMultiply) {
  // Each fork that succeeds doubles the processes; the process limit makes fork() fail (BlockingIOError)
  // long before the machine notices. The program reports the failure and the run ends.
  const auto r = run_python_sandboxed(
      "import os, sys\n"
      "children = 0\n"
      "try:\n"
      "    for _ in range(10000):\n"
      "        if os.fork() == 0:\n"
      "            import time\n"
      "            time.sleep(60)\n"
      "            os._exit(0)\n"
      "        children += 1\n"
      "except OSError as e:\n"
      "    print('fork refused after', children, type(e).__name__)\n"
      "    sys.exit(3)\n",
      quick_limits());
  EXPECT_EQ(r.status, SandboxStatus::kFailed) << sandbox_status_name(r.status) << ": " << r.output;
  EXPECT_EQ(r.exit_code, 3) << r.output;
  EXPECT_NE(r.output.find("fork refused"), std::string::npos) << r.output;
}

TEST(Sandbox, MemoryHogIsRefused) {
  const auto r = run_python_sandboxed("x = bytearray(4 << 30)\nprint('allocated')\n", quick_limits());
  EXPECT_NE(r.status, SandboxStatus::kPassed);
  EXPECT_EQ(r.output.find("allocated"), std::string::npos);
  EXPECT_NE(r.output.find("MemoryError"), std::string::npos) << r.output;
}

const char* kNetworkProbe =
    "import socket\n"
    "try:\n"
    "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
    "    s.settimeout(1)\n"
    "    s.connect(('127.0.0.1', 9))\n"
    "    print('connected')\n"
    "except OSError as e:\n"
    "    print('refused', e.errno)\n";

TEST(Sandbox, SeccompAloneStillCutsTheNetworkOff) {
  SandboxLimits l = quick_limits();
  l.use_network_namespace = false;
  const auto r = run_python_sandboxed(kNetworkProbe, l);
  EXPECT_EQ(r.isolation, "seccomp");
  EXPECT_EQ(r.status, SandboxStatus::kPassed) << r.output;
  EXPECT_EQ(r.output, "refused 13\n");
  // Local (AF_UNIX) sockets are not the network and stay allowed.
  const auto u = run_python_sandboxed("import socket\na, b = socket.socketpair()\nprint('pair')\n", l);
  EXPECT_EQ(u.output, "pair\n");
}

TEST(Sandbox, NetworkSocketsFail) {
  const auto r = run_python_sandboxed(
      "import socket\n"
      "try:\n"
      "    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)\n"
      "    s.settimeout(1)\n"
      "    s.connect(('127.0.0.1', 9))\n"
      "    print('connected')\n"
      "except OSError as e:\n"
      "    print('refused', e.errno)\n"
      "try:\n"
      "    socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
      "    print('ipv6 socket')\n"
      "except OSError as e:\n"
      "    print('refused6', e.errno)\n",
      quick_limits());
  EXPECT_EQ(r.status, SandboxStatus::kPassed) << r.output;
  EXPECT_EQ(r.output.find("connected"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("refused 13"), std::string::npos) << r.output;  // EACCES from the seccomp filter
  EXPECT_NE(r.output.find("refused6 13"), std::string::npos) << r.output;
}

TEST(Sandbox, RunsInAFreshTemporaryDirectoryWithAScrubbedEnvironment) {
  setenv("FP4_SANDBOX_SECRET", "leak", 1);
  const auto r = run_python_sandboxed(
      "import os\n"
      "print(os.getcwd() == os.environ['HOME'])\n"
      "print('FP4_SANDBOX_SECRET' in os.environ)\n"
      "print(sorted(os.listdir('.')))\n"
      "open('scratch.txt', 'w').write('x')\n",
      quick_limits());
  unsetenv("FP4_SANDBOX_SECRET");
  EXPECT_EQ(r.status, SandboxStatus::kPassed) << r.output;
  EXPECT_EQ(r.output, "True\nFalse\n['program.py']\n");
}

TEST(Sandbox, OutputIsTruncated) {
  SandboxLimits l = quick_limits();
  l.max_output_bytes = 100;
  const auto r = run_python_sandboxed("print('y' * 100000)\n", l);
  EXPECT_EQ(r.status, SandboxStatus::kPassed);
  EXPECT_EQ(r.output.size(), 100u);
}

}  // namespace
}  // namespace fp4::eval
