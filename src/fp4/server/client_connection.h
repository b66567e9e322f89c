// Whether the client of a request that is being handled is still connected, so a non-streaming request
// whose client went away is cancelled (its KV blocks freed) instead of generating to the end for nobody.
// A stream notices a departed client when a write fails; a non-streaming handler writes nothing until the
// answer is complete, so it has to look at the socket.
//
// cpp-httplib (0.11) does not hand the socket to handlers, but it does give the connection's two
// addresses, which identify one TCP connection: the socket is found once among this process's
// descriptors by comparing them. The handler runs on the thread that owns the connection, so the
// descriptor stays open (and cannot be reused) for as long as the handler runs.
#pragma once

#include <httplib.h>

namespace fp4::server {

class ClientConnection {
 public:
  explicit ClientConnection(const httplib::Request& req);

  // True once the peer has closed the connection or it failed (a non-blocking peek reads end-of-file or
  // an error). False while it is open, and always when the socket could not be identified.
  bool closed() const;
  bool identified() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace fp4::server
