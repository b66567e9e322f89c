// The serving engine end to end on the shipped tiny-r1 model (tokenizer and chat template included):
// agreement with single-sequence generate(), batch independence of seeded sampling, the text pipeline
// (stop strings, reasoning split, thinking budget), n > 1, logprobs, and the request life cycle.
#include <gtest/gtest.h>

#include <atomic>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "fp4/base/error.h"
#include "fp4/runtime/engine.h"
#include "fp4/runtime/generate.h"
#include "fp4/runtime/reasoning_parser.h"
#include "fp4/runtime/served_model.h"
#include "unit/runtime/test_engine_fixture.h"

namespace fp4::runtime {
namespace {

using test::EngineTest;
using test::token_ids;

TEST_F(EngineTest, GreedyOutputEqualsSingleSequenceGenerate) {
  const std::vector<int32_t> prompt = chat_prompt("What is 17 + 25?");
  GenerateOptions opt;
  opt.max_tokens = 40;
  opt.stop_tokens = served().eos_ids;
  const GenerateResult expected = generate(*served().model, prompt, opt);

  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = prompt;
  req.params = greedy_params(40);
  const RequestResult r = run_to_completion(engine, req);
  ASSERT_EQ(r.completions.size(), 1u);
  EXPECT_EQ(token_ids(r.completions[0]), expected.tokens);
  EXPECT_EQ(r.prompt_tokens, static_cast<int64_t>(prompt.size()));
  EXPECT_EQ(r.completion_tokens, static_cast<int64_t>(expected.tokens.size()));
  EXPECT_EQ(r.completions[0].finish, expected.stopped ? FinishReason::kStop : FinishReason::kLength);
  // The streamed text is the decoded output (EOS, a special token, is not text).
  std::vector<uint32_t> ids(expected.tokens.begin(), expected.tokens.end());
  EXPECT_EQ(r.completions[0].text, served().tokenizer->decode(ids, /*skip_special_tokens=*/true));
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
}


// Sampled with a seed, a request gives the same tokens alone and among eight others running with it.
TEST_F(EngineTest, SeededOutputDoesNotDependOnTheBatch) {
  const std::vector<int32_t> prompt = chat_prompt("Solve 3x + 4 = 19.");
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = prompt;
  req.params = seeded_params(48, 1234);
  const RequestResult alone = run_to_completion(engine, req);

  std::vector<RequestResult> results(9);
  std::vector<std::thread> clients;
  for (int i = 0; i < 9; ++i) {
    clients.emplace_back([&, i] {
      EngineRequest other;
      other.prompt = i == 4 ? prompt : chat_prompt("What is " + std::to_string(10 + i) + " times 3?");
      other.params = i == 4 ? req.params : seeded_params(48, 77 + i);
      results[static_cast<size_t>(i)] = run_to_completion(engine, other);
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(token_ids(results[4].completions[0]), token_ids(alone.completions[0]));
  EXPECT_EQ(results[4].completions[0].text, alone.completions[0].text);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
  EXPECT_EQ(engine.stats().requests_finished, 10);
}

// A stop string that starts inside one token and ends inside a later one cuts the text right before it.
TEST_F(EngineTest, StopStringAcrossTokenBoundaries) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = served().encode_prompt("12 + 30 = ");
  req.params = greedy_params(40);
  req.params.ignore_eos = true;
  const RequestResult full = run_to_completion(engine, req);
  const CompletionResult& f = full.completions[0];
  // Pick the stop string: from the middle of the third token's text to the middle of the fifth one.
  ASSERT_GE(f.tokens.size(), 8u);
  size_t begin = 0;
  for (size_t i = 0; i < 2; ++i) begin += f.tokens[i].text.size();
  std::string stop;
  size_t end = begin;
  for (size_t i = 2; i < 5; ++i) end += f.tokens[i].text.size();
  // Shift inside tokens when they are long enough; any span over token boundaries will do.
  const size_t from = begin + (f.tokens[2].text.size() > 1 ? 1 : 0);
  const size_t to = end - (f.tokens[4].text.size() > 1 ? 1 : 0);
  ASSERT_LT(from, to);
  stop = f.text.substr(from, to - from);
  const size_t first = f.text.find(stop);

  req.params.stop = {stop};
  const RequestResult cut = run_to_completion(engine, req);
  EXPECT_EQ(cut.completions[0].finish, FinishReason::kStop);
  EXPECT_EQ(cut.completions[0].stop_reason, stop);
  EXPECT_EQ(cut.completions[0].text, f.text.substr(0, first));

  req.params.include_stop_str_in_output = true;
  const RequestResult kept = run_to_completion(engine, req);
  EXPECT_EQ(kept.completions[0].text, f.text.substr(0, first + stop.size()));
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
}

TEST_F(EngineTest, StopTokenIdEndsWithItsText) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = served().encode_prompt("12 + 30 = ");
  req.params = greedy_params(40);
  req.params.ignore_eos = true;
  const RequestResult full = run_to_completion(engine, req);
  const auto ids = token_ids(full.completions[0]);
  ASSERT_GE(ids.size(), 6u);
  req.params.stop_token_ids = {ids[5]};
  const RequestResult cut = run_to_completion(engine, req);
  const auto first = static_cast<size_t>(std::find(ids.begin(), ids.end(), ids[5]) - ids.begin());
  EXPECT_EQ(token_ids(cut.completions[0]), std::vector<int32_t>(ids.begin(), ids.begin() + first + 1));
  EXPECT_EQ(cut.completions[0].finish, FinishReason::kStop);
  const uint32_t id = static_cast<uint32_t>(ids[5]);
  EXPECT_EQ(cut.completions[0].stop_reason, served().tokenizer->decode(std::span<const uint32_t>(&id, 1)));
}

// n > 1: completion i uses the request's seed with index i, so completion 0 equals the n = 1 request;
// the n completions come out the same whether they share the prefill by forking or by the prefix cache.
TEST_F(EngineTest, SeveralCompletionsOfOnePrompt) {
  const std::vector<int32_t> prompt = chat_prompt("What is 45 - 18?");
  EngineRequest req;
  req.prompt = prompt;
  req.params = seeded_params(32, 99);
  // tiny-r1 is nearly deterministic on its own tasks at temperature 1; a flat distribution makes four
  // independent draws of 32 tokens differ for any model, so the check below tests the seeding, not the model.
  req.params.temperature = 4.0;
  req.params.top_p = 1.0;
  for (bool prefix_caching : {true, false}) {
    EngineConfig c = small_config();
    c.prefix_caching = prefix_caching;
    Engine engine(*served().model, *served().tokenizer, served().eos_ids, c);
    req.params.n = 1;
    const RequestResult one = run_to_completion(engine, req);
    req.params.n = 4;
    const RequestResult four = run_to_completion(engine, req);
    ASSERT_EQ(four.completions.size(), 4u);
    EXPECT_EQ(token_ids(four.completions[0]), token_ids(one.completions[0]));
    int64_t total = 0;
    std::set<std::vector<int32_t>> distinct;
    for (const CompletionResult& c : four.completions) {
      EXPECT_FALSE(c.tokens.empty());
      total += static_cast<int64_t>(c.tokens.size());
      distinct.insert(token_ids(c));
    }
    EXPECT_EQ(four.completion_tokens, total);
    EXPECT_GT(distinct.size(), 1u);  // independent draws
    EXPECT_EQ(engine.stats().kv_blocks_used, 0);
  }
}

// With only a few free blocks, forks that do not fit compute the prompt themselves: same completions.
TEST_F(EngineTest, SeveralCompletionsWhenForksDoNotFit) {
  const std::vector<int32_t> prompt = chat_prompt("What is 45 - 18?");
  EngineRequest req;
  req.prompt = prompt;
  req.params = seeded_params(24, 5);
  req.params.n = 3;
  Engine roomy(*served().model, *served().tokenizer, served().eos_ids, small_config());
  const RequestResult expected = run_to_completion(roomy, req);
  EngineConfig c = small_config();
  c.max_num_seqs = 1;  // forks cannot join the running set: they wait and recompute
  Engine narrow(*served().model, *served().tokenizer, served().eos_ids, c);
  const RequestResult got = run_to_completion(narrow, req);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(token_ids(got.completions[i]), token_ids(expected.completions[i])) << "completion " << i;
  }
  EXPECT_EQ(narrow.stats().kv_blocks_used, 0);
}

TEST_F(EngineTest, LogprobsHaveOneEntryPerTokenAndTheRequestedAlternatives) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = chat_prompt("What is 6 * 7?");
  req.params = greedy_params(20);
  req.params.logprobs = true;
  req.params.top_logprobs = 3;
  const RequestResult r = run_to_completion(engine, req);
  const CompletionResult& c = r.completions[0];
  ASSERT_FALSE(c.tokens.empty());
  for (const TokenOutput& t : c.tokens) {
    ASSERT_EQ(t.top.size(), 3u);
    EXPECT_LE(t.logprob, 0.0f);
    EXPECT_GE(t.top[0].logprob, t.top[1].logprob);
    EXPECT_GE(t.top[1].logprob, t.top[2].logprob);
    // Greedy: the sampled token is the most likely one, with the same raw logprob.
    EXPECT_EQ(t.top[0].token, t.token);
    EXPECT_FLOAT_EQ(t.top[0].logprob, t.logprob);
  }
  req.params.logprobs = false;
  req.params.top_logprobs = 0;
  const RequestResult plain = run_to_completion(engine, req);
  for (const TokenOutput& t : plain.completions[0].tokens) EXPECT_TRUE(t.top.empty());
  EXPECT_EQ(token_ids(plain.completions[0]), token_ids(c));
}

// The chat template opens <think>; a budget of 6 tokens closes the block with the forced close text
// and the model goes on to the answer.
TEST_F(EngineTest, ThinkingBudgetClosesTheReasoningBlock) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = chat_prompt("What is 123 + 456?");
  req.split_reasoning = true;
  req.prompt_opens_reasoning = true;
  req.params = greedy_params(60);
  req.params.max_reasoning_tokens = 6;
  const RequestResult r = run_to_completion(engine, req);
  const CompletionResult& c = r.completions[0];
  std::vector<uint32_t> forced;
  for (uint32_t id : served().tokenizer->encode(ReasoningParser::kForcedCloseText, false)) forced.push_back(id);
  const auto ids = token_ids(c);
  ASSERT_GE(ids.size(), 6 + forced.size());
  for (size_t i = 0; i < forced.size(); ++i) EXPECT_EQ(static_cast<uint32_t>(ids[6 + i]), forced[i]);
  // The reasoning is the text of the six budgeted tokens; the answer follows the block.
  std::vector<uint32_t> thought(ids.begin(), ids.begin() + 6);
  std::string expected_reasoning = served().tokenizer->decode(thought, true);
  expected_reasoning.erase(0, expected_reasoning.find_first_not_of(" \n"));
  // The forced text's leading newline ends the reasoning, as a model-written "\n</think>" would.
  EXPECT_EQ(c.reasoning, expected_reasoning + "\n");
  EXPECT_EQ(c.text.find("</think>"), std::string::npos);
  EXPECT_EQ(c.reasoning.find("</think>"), std::string::npos);
  EXPECT_GT(ids.size(), 6 + forced.size());  // generation continued after the forced close
  // Without the split, the same tokens come out as one text.
  req.split_reasoning = false;
  const RequestResult merged = run_to_completion(engine, req);
  EXPECT_EQ(token_ids(merged.completions[0]), ids);
  EXPECT_NE(merged.completions[0].text.find("</think>"), std::string::npos);
  EXPECT_TRUE(merged.completions[0].reasoning.empty());
}

// Cancels a request from its sink on the first streamed update (so it cannot have finished first).
TEST_F(EngineTest, CancellationFreesBlocksAndEndsTheStream) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  std::mutex mu;
  std::condition_variable cv;
  int updates = 0;
  bool finished = false;
  std::optional<FinishReason> reason;
  RequestUpdate first;
  EngineRequest req;
  req.prompt = chat_prompt("Count to one hundred.");
  req.params = greedy_params(400);
  req.params.ignore_eos = true;
  const uint64_t id = engine.submit(req, [&](const RequestUpdate& u) {
    if (updates == 0) engine.cancel(u.request_id);
    std::lock_guard lock(mu);
    if (updates == 0) first = u;
    ++updates;
    for (const auto& d : u.deltas) {
      if (d.finish) reason = d.finish;
    }
    finished = u.finished;
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return finished; });
  // The admission update (no deltas, sent before the prefill), the first token of the step that was
  // already planned when the cancel arrived, then the cancellation.
  EXPECT_EQ(updates, 3);
  EXPECT_TRUE(first.deltas.empty());
  EXPECT_FALSE(first.finished);
  EXPECT_EQ(first.prompt_tokens, static_cast<int64_t>(req.prompt.size()));
  EXPECT_EQ(reason, FinishReason::kCancelled);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
  EXPECT_EQ(engine.stats().running, 0);
  engine.cancel(id);  // finished: ignored
  engine.cancel(12345);
}

TEST_F(EngineTest, TimeoutEndsTheRequestAsCancelled) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = chat_prompt("Count to one hundred.");
  req.params = greedy_params(400);
  req.params.ignore_eos = true;
  req.timeout = std::chrono::microseconds(1);
  const RequestResult r = run_to_completion(engine, req);
  EXPECT_EQ(r.completions[0].finish, FinishReason::kCancelled);
  EXPECT_LT(r.completion_tokens, 400);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
}

// While the engine thread is held inside a sink, nothing is admitted: the queue limit is reached exactly.
TEST_F(EngineTest, QueueLimitThrowsQueueFull) {
  EngineConfig c = small_config();
  c.max_waiting = 3;
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, c);
  std::mutex mu;
  std::condition_variable cv;
  bool in_sink = false, release = false;
  EngineRequest req;
  req.prompt = chat_prompt("Hi");
  req.params = greedy_params(4);
  engine.submit(req, [&](const RequestUpdate&) {
    std::unique_lock lock(mu);
    in_sink = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return in_sink; });
  }
  int queued_done = 0;
  auto count_final = [&](const RequestUpdate& u) {
    std::lock_guard lock(mu);
    queued_done += u.finished ? 1 : 0;
    cv.notify_all();
  };
  for (int i = 0; i < 3; ++i) engine.submit(req, count_final);
  EXPECT_EQ(engine.stats().waiting, 3);
  EXPECT_THROW(engine.submit(req, [](const RequestUpdate&) {}), QueueFull);
  {
    std::lock_guard lock(mu);
    release = true;
    cv.notify_all();
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return queued_done == 3; });
  }
  // Once the queue drains, submissions are accepted again.
  const RequestResult r = run_to_completion(engine, req);
  EXPECT_FALSE(r.completions[0].tokens.empty());
}

TEST_F(EngineTest, InvalidRequestsNameTheProblem) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  auto message = [&](EngineRequest req) -> std::string {
    try {
      engine.submit(std::move(req), [](const RequestUpdate&) {});
    } catch (const Error& e) {
      return e.what();
    }
    return "accepted";
  };
  EngineRequest ok;
  ok.prompt = {5, 6, 7};
  ok.params = greedy_params(4);
  EngineRequest empty = ok;
  empty.prompt.clear();
  EXPECT_NE(message(empty).find("empty"), std::string::npos);
  EngineRequest outside = ok;
  outside.prompt[1] = 1 << 20;
  EXPECT_NE(message(outside).find("vocabulary"), std::string::npos);
  EngineRequest too_long = ok;
  too_long.prompt.assign(512, 5);
  EXPECT_NE(message(too_long).find("max_model_len is 512"), std::string::npos);
  EngineRequest bad_param = ok;
  bad_param.params.top_p = 1.5;
  EXPECT_NE(message(bad_param).find("top_p"), std::string::npos);
  EXPECT_THROW(engine.submit(ok, nullptr), Error);
}

TEST_F(EngineTest, ShutdownWithGraceFinishesRunningRequests) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = chat_prompt("What is 2 + 2?");
  req.params = greedy_params(16);
  req.params.ignore_eos = true;
  std::mutex mu;
  std::condition_variable cv;
  std::set<uint64_t> started;
  std::vector<FinishReason> reasons;
  for (int i = 0; i < 3; ++i) {
    engine.submit(req, [&](const RequestUpdate& u) {
      std::lock_guard lock(mu);
      started.insert(u.request_id);
      for (const auto& d : u.deltas) {
        if (d.finish) reasons.push_back(*d.finish);
      }
      cv.notify_all();
    });
  }
  {
    // Every request has produced a token, so every one has started.
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return started.size() == 3; });
  }
  engine.shutdown(std::chrono::hours(1));
  ASSERT_EQ(reasons.size(), 3u);
  for (FinishReason f : reasons) EXPECT_EQ(f, FinishReason::kLength);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
  EXPECT_THROW(engine.submit(req, [](const RequestUpdate&) {}), Error);
  engine.shutdown(std::chrono::milliseconds(0));  // idempotent
}

// Requests that have not started when shutdown begins are not started: they end cancelled at once.
// The engine thread is held in the first request's sink until the second is queued, and starts the
// shutdown from there, so the second cannot have been admitted.
TEST_F(EngineTest, ShutdownDoesNotStartQueuedRequests) {
  EngineConfig c = small_config();
  c.max_num_seqs = 1;  // the second request cannot start while the first runs
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, c);
  EngineRequest req;
  req.prompt = chat_prompt("What is 2 + 2?");
  req.params = greedy_params(8);
  req.params.ignore_eos = true;
  std::mutex mu;
  std::condition_variable cv;
  bool second_queued = false;
  std::map<uint64_t, FinishReason> reasons;
  auto record = [&](const RequestUpdate& u) {
    for (const auto& d : u.deltas) {
      if (d.finish) reasons[u.request_id] = *d.finish;
    }
  };
  bool first_started = false, stop_started = false;
  const uint64_t first = engine.submit(req, [&](const RequestUpdate& u) {
    std::unique_lock lock(mu);
    if (!stop_started) {
      first_started = true;
      cv.notify_all();
      cv.wait(lock, [&] { return second_queued; });
      engine.shutdown(std::chrono::hours(1));
      stop_started = true;
    }
    record(u);
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return first_started; });
  }
  const uint64_t second = engine.submit(req, [&](const RequestUpdate& u) {
    std::lock_guard lock(mu);
    record(u);
  });
  {
    std::lock_guard lock(mu);
    second_queued = true;
    cv.notify_all();
  }
  engine.shutdown(std::chrono::hours(1));
  std::lock_guard lock(mu);
  EXPECT_EQ(reasons.at(first), FinishReason::kLength);
  EXPECT_EQ(reasons.at(second), FinishReason::kCancelled);
}

// Shutdown without grace, started from a sink on the first update: every request ends cancelled.
TEST_F(EngineTest, ShutdownWithoutGraceCancelsEverything) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = chat_prompt("Count to one hundred.");
  req.params = greedy_params(400);
  req.params.ignore_eos = true;
  std::mutex mu;
  int finals = 0;
  std::vector<FinishReason> reasons;
  std::atomic<bool> all_submitted{false};  // a stop before the 4th submit would make that submit throw
  for (int i = 0; i < 4; ++i) {
    engine.submit(req, [&](const RequestUpdate& u) {
      // From the engine thread: starts the stop only.
      if (all_submitted) engine.shutdown(std::chrono::milliseconds(0));
      std::lock_guard lock(mu);
      for (const auto& d : u.deltas) {
        if (d.finish) reasons.push_back(*d.finish);
      }
      finals += u.finished ? 1 : 0;
    });
  }
  all_submitted = true;
  engine.shutdown(std::chrono::milliseconds(0));
  EXPECT_EQ(finals, 4);
  ASSERT_EQ(reasons.size(), 4u);
  for (FinishReason f : reasons) EXPECT_EQ(f, FinishReason::kCancelled);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
}

// A repeated prompt maps its full blocks from the prefix cache and computes only the rest.
TEST_F(EngineTest, PrefixCacheServesRepeatedPrompts) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = chat_prompt("Please compute 1234 + 4321 and explain every step of the addition carefully.");
  req.params = greedy_params(16);
  const RequestResult first = run_to_completion(engine, req);
  const RequestResult second = run_to_completion(engine, req);
  const int64_t P = static_cast<int64_t>(req.prompt.size());
  const int64_t bs = engine.config().block_size;
  EXPECT_EQ(first.cached_prompt_tokens, 0);
  EXPECT_EQ(second.cached_prompt_tokens, (P - 1) / bs * bs);
  EXPECT_EQ(token_ids(second.completions[0]), token_ids(first.completions[0]));
  const EngineStats s = engine.stats();
  EXPECT_EQ(s.prefix_cache_queries, 2 * P);
  EXPECT_EQ(s.prefix_cache_hits, second.cached_prompt_tokens);
  EXPECT_EQ(s.kv_blocks_used, 0);
  EXPECT_EQ(s.prompt_tokens, 2 * P);
}

TEST_F(EngineTest, ContextLengthEndsWithLength) {
  EngineConfig c = small_config();
  c.max_model_len = 40;
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, c);
  EngineRequest req;
  req.prompt = chat_prompt("Count to one hundred.");
  req.params = greedy_params(1000);
  req.params.ignore_eos = true;
  const RequestResult r = run_to_completion(engine, req);
  EXPECT_EQ(r.completions[0].finish, FinishReason::kLength);
  EXPECT_EQ(r.prompt_tokens + r.completion_tokens, 40);
  EXPECT_EQ(engine.max_model_len(), 40);
}

TEST_F(EngineTest, ConfigValuesOutOfRangeAreErrors) {
  auto make = [&](EngineConfig c) { Engine e(*served().model, *served().tokenizer, served().eos_ids, c); };
  EngineConfig c = small_config();
  c.block_size = 0;
  EXPECT_THROW(make(c), Error);
  c = small_config();
  c.max_num_batched_tokens = 0;
  EXPECT_THROW(make(c), Error);
  c = small_config();
  c.kv_cache_tokens = 100;  // less than max_model_len 512
  EXPECT_THROW(make(c), Error);
  c = small_config();
  c.max_model_len = 1 << 20;  // beyond max_position_embeddings
  EXPECT_THROW(make(c), Error);
  c = EngineConfig{};  // defaults resolve to the model's context and a cache that holds it
  Engine e(*served().model, *served().tokenizer, served().eos_ids, c);
  EXPECT_EQ(e.max_model_len(), served().model->config().max_position_embeddings);
  EXPECT_GE(e.config().kv_cache_tokens, e.max_model_len());
  EXPECT_EQ(e.stats().kv_blocks_total * e.config().block_size, e.config().kv_cache_tokens);
}


// A sink that throws ends its own request; the engine keeps serving the others.
TEST_F(EngineTest, ThrowingSinkEndsOnlyItsRequest) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = chat_prompt("What is 9 + 9?");
  req.params = greedy_params(30);
  req.params.ignore_eos = true;
  engine.submit(req, [](const RequestUpdate&) { throw std::runtime_error("client went away"); });
  const RequestResult r = run_to_completion(engine, req);
  EXPECT_EQ(r.completions[0].tokens.size(), 30u);
  EXPECT_EQ(r.completions[0].finish, FinishReason::kLength);
  EXPECT_EQ(engine.stats().kv_blocks_used, 0);
  EXPECT_EQ(engine.stats().requests_finished, 2);
}

// Usage counters: prompt and generated tokens, finished requests, steps.
TEST_F(EngineTest, StatsCountTokensAndRequests) {
  Engine engine(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = chat_prompt("What is 8 + 1?");
  req.params = greedy_params(12);
  req.params.ignore_eos = true;
  req.params.n = 2;
  const RequestResult r = run_to_completion(engine, req);
  const EngineStats s = engine.stats();
  EXPECT_EQ(r.completion_tokens, 24);
  EXPECT_EQ(s.generation_tokens, 24);
  EXPECT_EQ(s.prompt_tokens, static_cast<int64_t>(req.prompt.size()));
  EXPECT_EQ(s.requests_finished, 1);
  EXPECT_EQ(s.waiting, 0);
  EXPECT_EQ(s.running, 0);
  EXPECT_GE(s.steps, 12);  // one token per completion per step at most
  EXPECT_EQ(s.kv_blocks_total, 4096 / 16);
  EXPECT_DOUBLE_EQ(s.kv_usage(), 0.0);
}


// shutdown() called from a sink (the engine thread) starts the stop without waiting for itself.
TEST_F(EngineTest, ShutdownFromASinkDoesNotDeadlock) {
  auto engine = std::make_unique<Engine>(*served().model, *served().tokenizer, served().eos_ids, small_config());
  EngineRequest req;
  req.prompt = chat_prompt("What is 5 + 5?");
  req.params = greedy_params(10);
  req.params.ignore_eos = true;
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::optional<FinishReason> reason;
  Engine* raw = engine.get();
  raw->submit(req, [&](const RequestUpdate& u) {
    raw->shutdown(std::chrono::hours(1));
    std::lock_guard lock(mu);
    for (const auto& d : u.deltas) {
      if (d.finish) reason = d.finish;
    }
    finished = u.finished;
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return finished; });
  }
  EXPECT_EQ(reason, FinishReason::kLength);  // it had started, so the grace let it finish
  engine.reset();  // joins the thread that already ended
}

}  // namespace
}  // namespace fp4::runtime
