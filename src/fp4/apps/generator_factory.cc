#include "fp4/apps/generator_factory.h"

#include <utility>

#include "fp4/apps/local_generator.h"
#include "fp4/apps/remote_generator.h"
#include "fp4/base/error.h"
#include "fp4/runtime/served_model.h"

namespace fp4::apps {
namespace {

// A LocalGenerator that owns the model it runs.
class OwningLocalGenerator : public TextGenerator {
 public:
  explicit OwningLocalGenerator(std::unique_ptr<runtime::ServedModel> served)
      : served_(std::move(served)), generator_(*served_) {}
  GenerationResponse generate(const GenerationRequest& request) override { return generator_.generate(request); }
  std::string model_name() const override { return generator_.model_name(); }

 private:
  std::unique_ptr<runtime::ServedModel> served_;  // declared first: destroyed after the generator
  LocalGenerator generator_;
};

}  // namespace

std::unique_ptr<TextGenerator> open_generator(const GeneratorSource& source) {
  const bool local = !source.model_dir.empty();
  const bool remote = !source.url.empty();
  FP4_CHECK(local != remote, "give either a model folder (-m DIR) or a server (--url URL){}",
            local ? ", not both" : "");
  if (remote) return std::make_unique<RemoteGenerator>(source.url, source.api_key, source.served_model);
  return std::make_unique<OwningLocalGenerator>(
      runtime::ServedModel::load(source.model_dir, source.engine, source.threads, source.served_model));
}

}  // namespace fp4::apps
