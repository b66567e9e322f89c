#include "fp4/server/update_channel.h"

namespace fp4::server {

void UpdateChannel::push(size_t prompt_index, const runtime::RequestUpdate& update) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back({prompt_index, update});
  }
  ready_.notify_one();
}

std::vector<TaggedUpdate> UpdateChannel::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  ready_.wait_for(lock, timeout, [this] { return !queue_.empty(); });
  std::vector<TaggedUpdate> out(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

runtime::UpdateSink make_sink(std::shared_ptr<UpdateChannel> channel, size_t prompt_index,
                              std::shared_ptr<RequestTimer> timer) {
  return [channel = std::move(channel), prompt_index, timer = std::move(timer)](const runtime::RequestUpdate& u) {
    if (timer) timer->on_update(u);
    channel->push(prompt_index, u);
  };
}

}  // namespace fp4::server
