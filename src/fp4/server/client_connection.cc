#include "fp4/server/client_connection.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string>

namespace fp4::server {
namespace {

// The numeric address and port of a socket address, in the form httplib reports (getnameinfo with
// NI_NUMERICHOST gives the same text as inet_ntop for IPv4 and IPv6 without a scope).
bool address_of(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    if (inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text)) == nullptr) return false;
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    if (inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof(text)) == nullptr) return false;
    port = ntohs(a.sin6_port);
  } else {
    return false;
  }
  ip = text;
  return true;
}

bool matches(int fd, const httplib::Request& req) {
  sockaddr_storage local{}, peer{};
  socklen_t local_len = sizeof(local), peer_len = sizeof(peer);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) return false;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) return false;
  std::string local_ip, peer_ip;
  int local_port = -1, peer_port = -1;
  return address_of(peer, peer_ip, peer_port) && peer_port == req.remote_port && peer_ip == req.remote_addr &&
         address_of(local, local_ip, local_port) && local_port == req.local_port && local_ip == req.local_addr;
}

}  // namespace

ClientConnection::ClientConnection(const httplib::Request& req) {
  if (req.remote_port <= 0 || req.local_port <= 0) return;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/proc/self/fd"), &closedir);
  if (!dir) return;
  while (const dirent* entry = readdir(dir.get())) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd < 0) continue;
    if (matches(static_cast<int>(fd), req)) {
      fd_ = static_cast<int>(fd);
      return;
    }
  }
}

bool ClientConnection::closed() const {
  if (fd_ < 0) return false;
  char byte = 0;
  const ssize_t n = recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;  // the client sent more (a pipelined request): still there
  if (n == 0) return true;  // orderly close
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace fp4::server
