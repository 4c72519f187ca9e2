#include "operators/weight_loading.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace adascale::operators {

void load_weights_checked(torch::nn::Module& module,
                          torch::serialize::InputArchive& archive) {
  std::map<std::string, std::pair<std::vector<int64_t>, at::ScalarType>>
      expected;
  for (const auto& p : module.named_parameters())
    expected[p.key()] = {p.value().sizes().vec(), p.value().scalar_type()};
  for (const auto& b : module.named_buffers())
    expected[b.key()] = {b.value().sizes().vec(), b.value().scalar_type()};
  try {
    module.load(archive);
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw DataError("weights do not fit the model: " +
                    what.substr(0, what.find('\n')));
  }
  auto check = [&](const std::string& name, const torch::Tensor& t) {
    const auto& [sizes, type] = expected.at(name);
    if (t.sizes().vec() != sizes || t.scalar_type() != type) {
      throw DataError(fmt::format(
          "weights do not fit the model: {} is {} [{}], the model's is {} [{}]",
          name, c10::toString(t.scalar_type()), fmt::join(t.sizes(), "x"),
          c10::toString(type), fmt::join(sizes, "x")));
    }
  };
  for (const auto& p : module.named_parameters()) check(p.key(), p.value());
  for (const auto& b : module.named_buffers()) check(b.key(), b.value());
}

}  // namespace adascale::operators
