#include "fp4/runtime/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "fp4/base/thread_pool.h"
#include "fp4/runtime/block_manager.h"
#include "fp4/runtime/completion.h"
#include "fp4/runtime/kv_cache.h"
#include "fp4/runtime/scheduler.h"
#include "fp4/tokenizer/tokenizer.h"

namespace fp4::runtime {

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "cancelled";
}

namespace {

using Clock = std::chrono::steady_clock;

// The share of the memory available at start-up that a default-sized KV cache may take: the rest is
// left to activations, the weights' page cache and the other processes of the machine.
constexpr double kDefaultKvMemoryShare = 0.5;

// Memory this process can still use, in bytes: MemAvailable from /proc/meminfo, lowered to the room left
// under a cgroup v2 limit (containers) when there is one; 0 when neither can be read (no cap then).
uint64_t available_memory_bytes() {
  uint64_t avail = 0;
  {
    std::ifstream in("/proc/meminfo");
    std::string key, unit;
    uint64_t kib = 0;
    while (in >> key >> kib >> unit) {
      if (key == "MemAvailable:") {
        avail = kib * 1024;
        break;
      }
    }
  }
  uint64_t limit = 0, current = 0;
  std::ifstream max_file("/sys/fs/cgroup/memory.max"), current_file("/sys/fs/cgroup/memory.current");
  if ((max_file >> limit) && (current_file >> current) && limit > current) {  // "max" (no limit) fails to parse
    avail = avail == 0 ? limit - current : std::min(avail, limit - current);
  }
  return avail;
}

struct Request {
  uint64_t id = 0;
  EngineRequest request;
  UpdateSink sink;
  uint64_t seed = 0;
  std::optional<Clock::time_point> deadline;
  std::vector<std::unique_ptr<Completion>> completions;  // [n]; completions[0] leads the prefill
  bool awaiting_fork = false;   // completions 1..n-1 wait for the leader's prefill to share it
  bool admitted = false;        // a sequence of it has run: it no longer counts as waiting
  int64_t cached_prompt_tokens = 0;
  bool ended = false;  // its final update is out (or its sink failed): dropped after this turn

  bool all_finished() const {
    return std::all_of(completions.begin(), completions.end(), [](const auto& c) { return c->finished(); });
  }
  int64_t completion_tokens() const {
    int64_t n = 0;
    for (const auto& c : completions) n += c->seq().generated();
    return n;
  }
};

}  // namespace

struct Engine::Impl {
  Impl(model::Model& m, const tokenizer::Tokenizer& t, std::vector<int32_t> eos, EngineConfig c);

  void run();
  // Engine-thread work of one loop turn.
  void take_new(std::deque<std::unique_ptr<Request>>& fresh);
  void cancel_request(Request& r);
  void expire(Clock::time_point now, bool stopping, std::optional<Clock::time_point> grace_end);
  bool step();  // false when nothing could be scheduled
  void fork_completions(Request& r, std::span<const sampling::SampleResult> first_tokens);
  void retire(Completion& c);
  // Sends every changed request its update; drops requests that ended.
  void deliver();
  void end_request(Request& r);  // counts a request as finished
  void publish_stats();

  model::Model& model;
  const tokenizer::Tokenizer& tok;
  std::vector<int32_t> eos_ids;
  EngineConfig config;  // resolved: max_model_len and kv_cache_tokens filled in
  std::vector<int32_t> forced_close;
  KvCache cache;
  BlockManager blocks;
  Scheduler scheduler;
  sampling::Sampler sampler;
  std::vector<float> logits;  // [rows, vocab] of the current step

  // Shared with the callers' threads.
  mutable std::mutex mu;
  std::condition_variable wake;
  std::deque<std::unique_ptr<Request>> incoming;
  std::vector<uint64_t> cancels;
  bool stopping = false;
  Clock::time_point grace_end;
  int64_t not_admitted = 0;  // submitted requests without a running sequence yet
  uint64_t next_request_id = 1;
  EngineStats stats;         // the snapshot stats() returns

  // Engine thread only.
  std::unordered_map<uint64_t, std::unique_ptr<Request>> requests;
  std::unordered_map<uint64_t, std::pair<Request*, Completion*>> by_sequence;
  uint64_t next_sequence_id = 1;
  int64_t prompt_tokens_total = 0, generation_tokens_total = 0, finished_total = 0, steps_total = 0;

  std::mutex join_mu;
  std::thread thread;
  std::thread::id thread_id;  // set once at start: shutdown() compares it without touching `thread`
};

namespace {

EngineConfig resolve_config(const model::Model& model, EngineConfig c) {
  FP4_CHECK(c.block_size > 0 && c.block_size <= 4096, "engine: block_size is {}, expected a value in [1, 4096]",
            c.block_size);
  FP4_CHECK(c.max_num_seqs > 0, "engine: max_num_seqs is {}, expected a positive count", c.max_num_seqs);
  FP4_CHECK(c.max_num_batched_tokens > 0, "engine: max_num_batched_tokens is {}, expected a positive count",
            c.max_num_batched_tokens);
  FP4_CHECK(c.max_waiting >= 0, "engine: max_waiting is {}, expected a count >= 0", c.max_waiting);
  FP4_CHECK(c.kv_cache_tokens >= 0, "engine: kv_cache_tokens is {}, expected a count >= 0 (0: default)",
            c.kv_cache_tokens);
  FP4_CHECK(c.forward.dump == nullptr && c.forward.routing == nullptr && c.forward.observe_linear_inputs == nullptr,
            "engine: forward options must not carry tensor dump, routing or linear-input hooks (they are per-call "
            "tools)");
  const int64_t model_len = model.config().max_position_embeddings;
  FP4_CHECK(c.max_model_len >= 0, "engine: max_model_len is {}, expected a count >= 0 (0: the model's)", c.max_model_len);
  FP4_CHECK(c.max_model_len > 0 || model_len > 0, "engine: the model has no max_position_embeddings; set max_model_len");
  FP4_CHECK(c.max_model_len == 0 || model_len <= 0 || c.max_model_len <= model_len,
            "engine: max_model_len {} exceeds the model's max_position_embeddings {}", c.max_model_len, model_len);
  const bool default_len = c.max_model_len == 0;
  if (default_len) c.max_model_len = model_len;
  FP4_CHECK(c.max_model_len >= 2, "engine: max_model_len is {}, expected at least 2 (a prompt token and an output)",
            c.max_model_len);
  if (c.kv_cache_tokens == 0) {
    int64_t tokens = c.max_model_len * std::min<int64_t>(c.max_num_seqs, 8);
    const uint64_t bytes_per_token =
        static_cast<uint64_t>(model.num_layers()) * static_cast<uint64_t>(model.kv_row_floats()) * sizeof(float);
    // The cache lives where the model keeps it: device memory for a GPU model, else host memory.
    const uint64_t avail = model.kv_on_device() ? model.kv_memory_available() : available_memory_bytes();
    if (avail > 0 && bytes_per_token > 0) {
      const auto cap = static_cast<int64_t>(static_cast<double>(avail) * kDefaultKvMemoryShare /
                                            static_cast<double>(bytes_per_token));
      tokens = std::min(tokens, std::max(cap, c.block_size));
      // A default context that does not fit the default cache shrinks to what does, so that one
      // sequence of any allowed length can always run.
      if (default_len && tokens < c.max_model_len) c.max_model_len = std::max<int64_t>(2, tokens);
    }
    c.kv_cache_tokens = std::max(tokens, c.max_model_len);
  }
  FP4_CHECK(c.kv_cache_tokens >= c.max_model_len,
            "engine: kv_cache_tokens {} is less than max_model_len {}: one full-length sequence must fit",
            c.kv_cache_tokens, c.max_model_len);
  // Round the cache up to whole blocks; the longest sequence then always fits in it alone.
  c.kv_cache_tokens = (c.kv_cache_tokens + c.block_size - 1) / c.block_size * c.block_size;
  return c;
}

}  // namespace

Engine::Impl::Impl(model::Model& m, const tokenizer::Tokenizer& t, std::vector<int32_t> eos, EngineConfig c)
    : model(m),
      tok(t),
      eos_ids(std::move(eos)),
      config(resolve_config(m, c)),
      cache(m, config.block_size, config.kv_cache_tokens / config.block_size),
      blocks(config.kv_cache_tokens / config.block_size, config.block_size, config.prefix_caching),
      scheduler(blocks, SchedulerConfig{config.max_num_seqs, config.max_num_batched_tokens}),
      sampler(m.vocab_size()) {
  for (uint32_t id : tok.encode(ReasoningParser::kForcedCloseText, /*add_special_tokens=*/false)) {
    forced_close.push_back(static_cast<int32_t>(id));
  }
  for (int32_t id : eos_ids) {
    FP4_CHECK(id >= 0 && id < m.vocab_size(), "engine: EOS id {} is outside the vocabulary [0, {})", id,
              m.vocab_size());
  }
  stats.kv_blocks_total = blocks.num_blocks();
}

void Engine::Impl::take_new(std::deque<std::unique_ptr<Request>>& fresh) {
  for (auto& owned : fresh) {
    Request& r = *owned;
    const sampling::SamplingParams& p = r.request.params;
    const CompletionContext ctx{&p, &eos_ids, &forced_close, &tok, config.max_model_len, r.request.split_reasoning,
                                r.request.prompt_opens_reasoning};
    const std::vector<uint64_t> hashes =
        config.prefix_caching ? blocks.prompt_block_hashes(r.request.prompt) : std::vector<uint64_t>{};
    for (int i = 0; i < p.n; ++i) {
      Sequence seq(next_sequence_id++, r.request.prompt, hashes);
      auto c = std::make_unique<Completion>(i, std::move(seq), ctx);
      by_sequence[c->seq().id()] = {&r, c.get()};
      r.completions.push_back(std::move(c));
    }
    scheduler.enqueue(&r.completions[0]->seq());
    r.awaiting_fork = p.n > 1;
    requests.emplace(r.id, std::move(owned));
  }
  fresh.clear();
}

void Engine::Impl::retire(Completion& c) {
  scheduler.remove(&c.seq());  // releases its blocks now
  by_sequence.erase(c.seq().id());
}

void Engine::Impl::cancel_request(Request& r) {
  for (auto& c : r.completions) {
    if (c->finished()) continue;
    c->finish(FinishReason::kCancelled);
    retire(*c);
  }
  r.awaiting_fork = false;
}

void Engine::Impl::expire(Clock::time_point now, bool stop, std::optional<Clock::time_point> grace) {
  for (auto& [id, r] : requests) {
    if (r->all_finished()) continue;
    const bool timed_out = r->deadline && now >= *r->deadline;
    // Shutting down: requests that never ran are not started; after the grace period nothing runs.
    const bool shut = stop && (!r->admitted || (grace && now >= *grace));
    if (timed_out || shut) cancel_request(*r);
  }
}

void Engine::Impl::fork_completions(Request& r, std::span<const sampling::SampleResult> first_tokens) {
  // The leader's prompt is computed: completions 1..n-1 map its full blocks (shared, read-only from now
  // on) and a private copy of its partly filled last block, then start from the same logits.
  r.awaiting_fork = false;
  Sequence& lead = r.completions[0]->seq();
  const int64_t P = lead.prompt_len();
  const int64_t full = P / config.block_size;
  const int64_t partial_rows = P % config.block_size;
  std::vector<Sequence*> deferred;  // forks that did not fit, in completion order
  for (size_t i = 1; i < r.completions.size(); ++i) {
    Completion& c = *r.completions[i];
    if (c.finished()) continue;
    Sequence& s = c.seq();
    bool ok = true;
    for (int64_t b = 0; b < full; ++b) {
      blocks.share(lead.blocks[static_cast<size_t>(b)]);
      s.blocks.push_back(lead.blocks[static_cast<size_t>(b)]);
    }
    if (partial_rows > 0) {
      const int32_t copy = blocks.allocate();
      if (copy >= 0) {
        cache.copy_rows(lead.blocks[static_cast<size_t>(full)], copy, partial_rows);
        s.blocks.push_back(copy);
      } else {
        ok = false;
      }
    }
    if (ok) {
      s.num_computed = P;
      s.published_blocks = std::min(lead.published_blocks, full);
      ok = scheduler.add_running(&s);
    }
    if (!ok) {
      // No room to fork: this completion computes the prompt itself later (mostly from the prefix cache).
      blocks.release_all(s.blocks);
      s.num_computed = 0;
      s.published_blocks = 0;
      deferred.push_back(&s);
      continue;
    }
    const int64_t appended =
        c.must_force_close() ? c.force_close() : c.accept(first_tokens[i - 1]);
    generation_tokens_total += appended;
    if (c.finished()) retire(c);
  }
  // At the front of the queue (the request is already admitted), keeping completion order.
  for (auto it = deferred.rbegin(); it != deferred.rend(); ++it) scheduler.enqueue_front(*it);
}

bool Engine::Impl::step() {
  StepPlan plan = scheduler.schedule();
  std::vector<Request*> newly_admitted;
  for (Sequence* s : plan.admitted) {
    Request& r = *by_sequence.at(s->id()).first;
    if (!r.admitted) {
      r.admitted = true;
      r.cached_prompt_tokens = s->cached_tokens;
      prompt_tokens_total += s->prompt_len();
      newly_admitted.push_back(&r);
      std::lock_guard lock(mu);
      --not_admitted;
    }
  }
  if (!newly_admitted.empty()) publish_stats();
  // A request's first update is sent as it leaves the queue, before its prefill runs, so a client can
  // tell queue time from time to first token (the server's request_queue_time histogram). It carries
  // no deltas.
  for (Request* r : newly_admitted) {
    RequestUpdate u;
    u.request_id = r->id;
    u.prompt_tokens = static_cast<int64_t>(r->request.prompt.size());
    u.cached_prompt_tokens = r->cached_prompt_tokens;
    try {
      r->sink(u);
    } catch (const std::exception& e) {
      // The plan already holds its sequences, so it is cancelled at the start of the next step.
      std::fprintf(stderr, "engine: update sink of request %llu threw, cancelling it: %s\n",
                   static_cast<unsigned long long>(r->id), e.what());
      std::lock_guard lock(mu);
      cancels.push_back(r->id);
    }
  }
  if (plan.empty()) return false;
  ++steps_total;

  // One forward pass over every chunk; logits rows for the chunks that end their pending tokens.
  std::vector<model::BatchSequence> batch;
  batch.reserve(plan.chunks.size());
  int64_t rows = 0;
  for (const ScheduledChunk& ch : plan.chunks) {
    model::BatchSequence b;
    b.tokens = ch.seq->tokens().subspan(static_cast<size_t>(ch.start), static_cast<size_t>(ch.count));
    b.pos0 = ch.start;
    b.kv = cache.view(ch.seq->blocks);
    b.logits = ch.wants_logits ? model::BatchSequence::Logits::kLast : model::BatchSequence::Logits::kNone;
    rows += ch.wants_logits ? 1 : 0;
    batch.push_back(b);
  }
  const int64_t vocab = model.vocab_size();
  logits.resize(static_cast<size_t>(std::max<int64_t>(rows, 1) * vocab));
  try {
    model.forward_batch(batch, config.forward, logits.data());
  } catch (const std::exception& e) {
    // Requests are validated on submit, so this is an engine fault: end the requests of this step
    // rather than the process, and say why.
    std::fprintf(stderr, "engine: forward pass failed, cancelling %zu sequences: %s\n", plan.chunks.size(), e.what());
    for (const ScheduledChunk& ch : plan.chunks) {
      auto it = by_sequence.find(ch.seq->id());
      if (it != by_sequence.end()) cancel_request(*it->second.first);
    }
    return true;
  }
  scheduler.complete(plan);

  // Sampling rows: one per chunk with logits, plus the first tokens of completions forked from a
  // leader whose prompt just finished (they share its logits row).
  struct RowOwner {
    Request* request;
    Completion* completion;
  };
  std::vector<sampling::SampleRow> sample_rows;
  std::vector<RowOwner> owners;
  int64_t row = 0;
  for (const ScheduledChunk& ch : plan.chunks) {
    if (!ch.wants_logits) continue;
    const float* row_logits = logits.data() + row * vocab;
    ++row;
    auto [r, c] = by_sequence.at(ch.seq->id());
    const sampling::SamplingParams& p = r->request.params;
    auto add_row = [&](Completion* who) {
      sampling::SampleRow sr;
      sr.logits = row_logits;
      sr.params = &p;
      sr.history = p.has_penalties() ? &who->history() : nullptr;
      sr.seed = r->seed;
      sr.completion = static_cast<uint32_t>(who->index());
      sr.step = static_cast<uint64_t>(who->seq().generated());
      sample_rows.push_back(sr);
      owners.push_back({r, who});
    };
    add_row(c);
    if (c->index() == 0 && r->awaiting_fork) {
      for (size_t i = 1; i < r->completions.size(); ++i) add_row(r->completions[i].get());
    }
  }
  ThreadPool* pool = sample_rows.size() > 1 ? &ThreadPool::global() : nullptr;
  const std::vector<sampling::SampleResult> sampled = sampler.sample_batch(sample_rows, pool);

  for (size_t i = 0; i < sampled.size();) {
    Request& r = *owners[i].request;
    Completion& c = *owners[i].completion;
    size_t forks = 0;
    if (c.index() == 0 && r.awaiting_fork) {
      forks = r.completions.size() - 1;
      fork_completions(r, std::span<const sampling::SampleResult>(sampled).subspan(i + 1, forks));
    }
    if (!c.finished()) {
      generation_tokens_total += c.must_force_close() ? c.force_close() : c.accept(sampled[i]);
      if (c.finished()) retire(c);
    }
    i += 1 + forks;
  }
  return true;
}

void Engine::Impl::deliver() {
  // Build every update first and count the finished requests, so that the statistics a client reads
  // after its final update already include it; then call the sinks.
  std::vector<std::pair<Request*, RequestUpdate>> updates;
  for (auto& [id, owned] : requests) {
    Request& r = *owned;
    RequestUpdate u;
    for (auto& c : r.completions) {
      if (c->changed()) u.deltas.push_back(c->take_delta());
    }
    const bool finished = r.all_finished();
    if (u.deltas.empty() && !finished) continue;
    u.request_id = r.id;
    u.prompt_tokens = static_cast<int64_t>(r.request.prompt.size());
    u.cached_prompt_tokens = r.cached_prompt_tokens;
    u.completion_tokens = r.completion_tokens();
    u.finished = finished;
    if (finished) end_request(r);
    updates.emplace_back(&r, std::move(u));
  }
  publish_stats();
  bool sink_failed = false;
  for (auto& [r, u] : updates) {
    try {
      r->sink(u);
    } catch (const std::exception& e) {
      // A sink must not throw; if one does, its request ends instead of the engine thread, and its
      // sink is not called again.
      std::fprintf(stderr, "engine: update sink of request %llu threw, cancelling it: %s\n",
                   static_cast<unsigned long long>(r->id), e.what());
      if (!u.finished) {
        cancel_request(*r);
        end_request(*r);
        sink_failed = true;
      }
    }
  }
  for (auto it = requests.begin(); it != requests.end();) {
    it = it->second->ended ? requests.erase(it) : std::next(it);
  }
  if (sink_failed) publish_stats();
}

void Engine::Impl::end_request(Request& r) {
  r.ended = true;
  ++finished_total;
  if (!r.admitted) {
    std::lock_guard lock(mu);
    --not_admitted;
  }
}

void Engine::Impl::publish_stats() {
  std::lock_guard lock(mu);
  stats.waiting = not_admitted;
  stats.running = static_cast<int64_t>(scheduler.running().size());
  stats.kv_blocks_total = blocks.num_blocks();
  stats.kv_blocks_used = blocks.used_blocks();
  stats.prompt_tokens = prompt_tokens_total;
  stats.generation_tokens = generation_tokens_total;
  stats.prefix_cache_queries = blocks.query_tokens();
  stats.prefix_cache_hits = blocks.hit_tokens();
  stats.preemptions = scheduler.preemptions();
  stats.requests_finished = finished_total;
  stats.steps = steps_total;
}

void Engine::Impl::run() {
  std::deque<std::unique_ptr<Request>> fresh;
  std::vector<uint64_t> cancelled;
  bool stalled = false;  // the last turn had requests but nothing to run
  for (;;) {
    bool stop = false;
    std::optional<Clock::time_point> grace;
    {
      std::unique_lock lock(mu);
      auto news = [&] { return !incoming.empty() || !cancels.empty() || stopping; };
      if (requests.empty()) {
        wake.wait(lock, news);  // idle: sleep until a request, a cancel or shutdown arrives
      } else if (stalled) {
        // The scheduler found nothing to run (it should not happen: a lone sequence always fits). Poll
        // slowly rather than spin, so timeouts and cancels still apply.
        wake.wait_for(lock, std::chrono::milliseconds(1), [&] { return !incoming.empty() || !cancels.empty(); });
      }
      fresh.swap(incoming);
      cancelled.swap(cancels);
      stop = stopping;
      if (stop) grace = grace_end;
    }
    try {
      take_new(fresh);
      for (uint64_t id : cancelled) {
        auto it = requests.find(id);
        if (it != requests.end()) cancel_request(*it->second);
      }
      cancelled.clear();
      expire(Clock::now(), stop, grace);
      stalled = !requests.empty() && !step();
    } catch (const std::exception& e) {
      // An engine fault (out of memory, a broken invariant): end every request rather than the process.
      std::fprintf(stderr, "engine: step failed, cancelling %zu requests: %s\n", requests.size(), e.what());
      fresh.clear();
      cancelled.clear();
      for (auto& [id, r] : requests) {
        try {
          cancel_request(*r);
        } catch (const std::exception&) {
          for (auto& c : r->completions) c->finish(FinishReason::kCancelled);
        }
      }
    }
    // Blocks are back in the pool and counters are current before any sink hears of a finish.
    deliver();
    if (stop && requests.empty()) {
      std::lock_guard lock(mu);
      if (incoming.empty()) return;
    }
  }
}

Engine::Engine(model::Model& model, const tokenizer::Tokenizer& tokenizer, std::vector<int32_t> eos_ids,
               EngineConfig config)
    : impl_(std::make_unique<Impl>(model, tokenizer, std::move(eos_ids), config)) {
  impl_->thread = std::thread([this] { impl_->run(); });
  impl_->thread_id = impl_->thread.get_id();
}

Engine::~Engine() { shutdown(std::chrono::milliseconds(0)); }

uint64_t Engine::submit(EngineRequest request, UpdateSink sink) {
  Impl& m = *impl_;
  FP4_CHECK(static_cast<bool>(sink), "engine: a request needs an update sink");
  FP4_CHECK(!request.prompt.empty(), "engine: the prompt is empty; expected at least one token");
  const int64_t vocab = m.model.vocab_size();
  for (size_t i = 0; i < request.prompt.size(); ++i) {
    const int32_t t = request.prompt[i];
    FP4_CHECK(t >= 0 && t < vocab, "engine: prompt token {} is id {}, outside the vocabulary [0, {})", i, t, vocab);
  }
  const auto P = static_cast<int64_t>(request.prompt.size());
  FP4_CHECK(P < m.config.max_model_len,
            "engine: the prompt has {} tokens; max_model_len is {} (prompt plus at least one output token)", P,
            m.config.max_model_len);
  sampling::validate(request.params, vocab);
  if (request.timeout) {
    FP4_CHECK(request.timeout->count() > 0, "engine: the request timeout must be positive");
  }
  auto r = std::make_unique<Request>();
  r->seed = static_cast<uint64_t>(request.params.seed.value_or(sampling::draw_seed()));
  if (request.timeout) r->deadline = Clock::now() + *request.timeout;
  r->sink = std::move(sink);
  r->request = std::move(request);
  std::lock_guard lock(m.mu);
  FP4_CHECK(!m.stopping, "engine: shutting down");
  if (m.not_admitted >= m.config.max_waiting) {
    throw QueueFull(fmt::format("engine: the waiting queue is full ({} requests, the max_waiting limit)",
                                m.config.max_waiting));
  }
  r->id = m.next_request_id++;
  const uint64_t id = r->id;
  m.incoming.push_back(std::move(r));
  ++m.not_admitted;
  m.stats.waiting = m.not_admitted;
  m.wake.notify_one();
  return id;
}

void Engine::cancel(uint64_t request_id) {
  std::lock_guard lock(impl_->mu);
  impl_->cancels.push_back(request_id);
  impl_->wake.notify_one();
}

void Engine::shutdown(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(impl_->mu);
    if (!impl_->stopping) {
      impl_->stopping = true;
      impl_->grace_end = Clock::now() + std::max(grace, std::chrono::milliseconds(0));
    }
    impl_->wake.notify_one();
  }
  // Called from a sink (the engine thread itself): the loop ends on its own once the grace is over.
  if (std::this_thread::get_id() == impl_->thread_id) return;
  std::lock_guard join_lock(impl_->join_mu);
  if (impl_->thread.joinable()) impl_->thread.join();
}

EngineStats Engine::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

const EngineConfig& Engine::config() const { return impl_->config; }

int64_t Engine::max_model_len() const { return impl_->config.max_model_len; }

RequestResult run_to_completion(Engine& engine, EngineRequest request) {
  struct Shared {
    std::mutex mu;
    std::condition_variable done_cv;
    RequestResult result;
    bool done = false;
  };
  auto shared = std::make_shared<Shared>();
  shared->result.completions.resize(static_cast<size_t>(std::max(1, request.params.n)));
  engine.submit(std::move(request), [shared](const RequestUpdate& u) {
    std::lock_guard lock(shared->mu);
    RequestResult& res = shared->result;
    for (const CompletionDelta& d : u.deltas) {
      if (d.index < 0 || static_cast<size_t>(d.index) >= res.completions.size()) continue;
      CompletionResult& c = res.completions[static_cast<size_t>(d.index)];
      c.text += d.text;
      c.reasoning += d.reasoning;
      c.tokens.insert(c.tokens.end(), d.tokens.begin(), d.tokens.end());
      if (d.finish) c.finish = *d.finish;
      if (d.stop_reason) c.stop_reason = d.stop_reason;
    }
    res.prompt_tokens = u.prompt_tokens;
    res.cached_prompt_tokens = u.cached_prompt_tokens;
    res.completion_tokens = u.completion_tokens;
    if (u.finished) {
      shared->done = true;
      shared->done_cv.notify_all();
    }
  });
  std::unique_lock lock(shared->mu);
  shared->done_cv.wait(lock, [&] { return shared->done; });
  return std::move(shared->result);
}

}  // namespace fp4::runtime
