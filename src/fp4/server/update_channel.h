// The hand-off between the engine thread and an HTTP worker thread. The engine's sink copies each update
// into the channel and returns at once (it never touches a socket); the worker waits on the channel and
// writes to its client at its own pace. One channel may carry several engine requests (a /v1/completions
// prompt list), tagged with the prompt's index.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "fp4/runtime/engine.h"
#include "fp4/server/metrics.h"

namespace fp4::server {

struct TaggedUpdate {
  size_t prompt_index = 0;
  runtime::RequestUpdate update;
};

class UpdateChannel {
 public:
  void push(size_t prompt_index, const runtime::RequestUpdate& update);
  // Waits up to `timeout` for updates and returns every update queued (empty after a timeout).
  std::vector<TaggedUpdate> wait(std::chrono::milliseconds timeout);

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<TaggedUpdate> queue_;
};

// The engine sink for prompt `prompt_index`: times the request for /metrics and queues the update.
runtime::UpdateSink make_sink(std::shared_ptr<UpdateChannel> channel, size_t prompt_index,
                              std::shared_ptr<RequestTimer> timer);

}  // namespace fp4::server
