// RemoteGenerator against a small OpenAI-style server run in this process (cpp-httplib), so the client's
// request bodies, response parsing and error mapping are checked over real HTTP.
#include <gtest/gtest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fp4/apps/remote_generator.h"
#include "fp4/base/error.h"

namespace fp4::apps {
namespace {

using nlohmann::json;

class FakeOpenAiServer {
 public:
  FakeOpenAiServer() {
    server_.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.set_content(R"({"object":"list","data":[{"id":"tiny-r1","object":"model"}]})", "application/json");
    });
    server_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      const json body = json::parse(req.body);
      if (body.contains("temperature") && body["temperature"].get<double>() > 2.0) {
        res.status = 400;
        res.set_content(R"({"object":"error","error":{"message":"sampling: \"temperature\" is 9, expected a value in [0, 2]","type":"invalid_request_error"}})",
                        "application/json");
        return;
      }
      // Two choices out of order, one with null content (all reasoning) as vLLM sends it.
      res.set_content(R"({"choices":[
          {"index":1,"message":{"role":"assistant","content":null,"reasoning_content":"still thinking"},"finish_reason":"length"},
          {"index":0,"message":{"role":"assistant","content":"The answer is \\boxed{5}.","reasoning_content":"2+3=5"},"finish_reason":"stop"}],
          "usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42}})",
                      "application/json");
    });
    server_.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.set_content(R"({"choices":[{"index":0,"text":" world","finish_reason":"length"}],"usage":{"prompt_tokens":2,"completion_tokens":1}})",
                      "application/json");
    });
    server_.Post("/prefix/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.status = 503;
      res.set_content("upstream overloaded\nretry later", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // bind_to_any_port already listens, so clients may connect at once; the accept loop starts soon.
  }
  ~FakeOpenAiServer() {
    // stop() only takes effect once the accept loop runs.
    while (!server_.is_running()) std::this_thread::yield();
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<httplib::Request> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  void record(const httplib::Request& req) {
    std::lock_guard<std::mutex> lock(mutex_);
    requests_.push_back(req);
  }

  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<httplib::Request> requests_;
};

TEST(ServerUrl, Parses) {
  ServerUrl u = ServerUrl::parse("http://127.0.0.1:8000");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 8000);
  EXPECT_EQ(u.base_path, "");
  u = ServerUrl::parse("HTTPS://api.example.com/v1/");
  EXPECT_EQ(u.scheme, "https");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.base_path, "");
  u = ServerUrl::parse("http://[::1]:9000/proxy/v1");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.base_path, "/proxy");
  EXPECT_EQ(u.origin(), "http://[::1]:9000");
  EXPECT_THROW(ServerUrl::parse("127.0.0.1:8000"), Error);
  EXPECT_THROW(ServerUrl::parse("ftp://host"), Error);
  EXPECT_THROW(ServerUrl::parse("http://host:99999"), Error);
  EXPECT_THROW(ServerUrl::parse("http://:80"), Error);
  EXPECT_THROW(ServerUrl::parse("http://user:pw@host"), Error);
}

TEST(RemoteGenerator, RequestBodyUsesOpenAiNamesAndOnlySetFields) {
  GenerationRequest r;
  r.messages = {{"user", "hi"}};
  r.sampling.temperature = 0.6;
  r.sampling.top_k = 20;
  r.sampling.stop = std::vector<std::string>{"\n\n"};
  r.sampling.max_reasoning_tokens = 100;
  r.template_kwargs = {{"enable_thinking", false}};
  const json body = RemoteGenerator::request_body(r, "m");
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["messages"], json::parse(R"([{"role":"user","content":"hi"}])"));
  EXPECT_EQ(body["temperature"], 0.6);
  EXPECT_EQ(body["top_k"], 20);
  EXPECT_EQ(body["stop"], json::array({"\n\n"}));
  EXPECT_EQ(body["max_reasoning_tokens"], 100);
  EXPECT_EQ(body["chat_template_kwargs"]["enable_thinking"], false);
  EXPECT_EQ(body["stream"], false);
  EXPECT_FALSE(body.contains("top_p"));
  EXPECT_FALSE(body.contains("seed"));
  EXPECT_FALSE(body.contains("prompt"));

  GenerationRequest bad;
  EXPECT_THROW(RemoteGenerator::request_body(bad, "m"), Error);
}

TEST(RemoteGenerator, ErrorMessageShapes) {
  EXPECT_EQ(RemoteGenerator::error_message(R"({"error":{"message":"bad top_p"}})"), "bad top_p");
  EXPECT_EQ(RemoteGenerator::error_message(R"({"message":"flat"})"), "flat");
  EXPECT_EQ(RemoteGenerator::error_message(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(RemoteGenerator::error_message("plain\ntext"), "plain text");
  EXPECT_EQ(RemoteGenerator::error_message(""), "(empty body)");
  EXPECT_EQ(RemoteGenerator::error_message(std::string(1000, 'x')).size(), 300u);
}

TEST(RemoteGenerator, ChatOverHttpWithModelDiscoveryAndBearer) {
  FakeOpenAiServer server;
  RemoteGenerator gen(server.url(), "secret-key");
  EXPECT_EQ(gen.model_name(), "tiny-r1");
  GenerationRequest r;
  r.messages = {{"user", "What is 2 + 3?"}};
  r.sampling.n = 2;
  r.sampling.seed = 5;
  const GenerationResponse out = gen.generate(r);
  ASSERT_EQ(out.choices.size(), 2u);
  EXPECT_EQ(out.choices[0].content, "The answer is \\boxed{5}.");
  EXPECT_EQ(out.choices[0].reasoning, "2+3=5");
  EXPECT_EQ(out.choices[0].finish_reason, "stop");
  EXPECT_EQ(out.choices[1].content, "");
  EXPECT_EQ(out.choices[1].reasoning, "still thinking");
  EXPECT_EQ(out.choices[1].finish_reason, "length");
  EXPECT_EQ(out.prompt_tokens, 12);
  EXPECT_EQ(out.completion_tokens, 30);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);  // /v1/models once (cached), then the completion
  EXPECT_EQ(requests[0].path, "/v1/models");
  EXPECT_EQ(requests[1].get_header_value("Authorization"), "Bearer secret-key");
  const json sent = json::parse(requests[1].body);
  EXPECT_EQ(sent["model"], "tiny-r1");
  EXPECT_EQ(sent["n"], 2);
  EXPECT_EQ(sent["seed"], 5);
}

TEST(RemoteGenerator, RawPromptUsesCompletions) {
  FakeOpenAiServer server;
  RemoteGenerator gen(server.url() + "/v1", "", "given-name");
  GenerationRequest r;
  r.prompt = "hello";
  const GenerationResponse out = gen.generate(r);
  ASSERT_EQ(out.choices.size(), 1u);
  EXPECT_EQ(out.choices[0].content, " world");
  EXPECT_EQ(out.choices[0].finish_reason, "length");
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);  // the model was given: no /v1/models
  EXPECT_EQ(requests[0].path, "/v1/completions");
  EXPECT_FALSE(requests[0].has_header("Authorization"));
  EXPECT_EQ(json::parse(requests[0].body)["prompt"], "hello");
}

TEST(RemoteGenerator, ServerErrorsCarryTheServersMessage) {
  FakeOpenAiServer server;
  RemoteGenerator gen(server.url(), "", "m");
  GenerationRequest r;
  r.messages = {{"user", "x"}};
  r.sampling.temperature = 9.0;
  try {
    gen.generate(r);
    FAIL() << "expected fp4::Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), server.url().substr(0, server.url().size()) + "/v1/chat/completions: HTTP 400: "
                                         "sampling: \"temperature\" is 9, expected a value in [0, 2]");
  }
  RemoteGenerator prefixed(server.url() + "/prefix", "", "m");
  GenerationRequest p;
  p.prompt = "x";
  try {
    prefixed.generate(p);
    FAIL() << "expected fp4::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("HTTP 503: upstream overloaded retry later"), std::string::npos) << e.what();
  }
}

TEST(RemoteGenerator, UnreachableServer) {
  // Bind a port without listening and release it, so nothing accepts connections there.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t length = sizeof(addr);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  RemoteTimeouts timeouts;
  timeouts.connect = std::chrono::seconds(2);
  timeouts.read = std::chrono::seconds(2);
  RemoteGenerator gen("http://127.0.0.1:" + std::to_string(port), "", "m", timeouts);
  GenerationRequest r;
  r.messages = {{"user", "x"}};
  try {
    gen.generate(r);
    FAIL() << "expected fp4::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("request failed"), std::string::npos) << e.what();
  }
}

TEST(RemoteGenerator, ConcurrentCallsEachGetTheirAnswer) {
  FakeOpenAiServer server;
  RemoteGenerator gen(server.url(), "", "m");
  std::vector<std::thread> threads;
  std::vector<std::string> answers(6);
  for (size_t i = 0; i < answers.size(); ++i) {
    threads.emplace_back([&, i] {
      GenerationRequest r;
      r.messages = {{"user", "q"}};
      answers[i] = gen.generate(r).choices.at(0).content;
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& a : answers) EXPECT_EQ(a, "The answer is \\boxed{5}.");
  EXPECT_EQ(server.requests().size(), answers.size());
}

}  // namespace
}  // namespace fp4::apps
