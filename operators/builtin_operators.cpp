// The operators that ship with AdaScale: one line each. A new operator is
// one file (its module) plus one line here.

#include "operators/basic_block.h"
#include "operators/dense_block.h"
#include "operators/depthwise_separable.h"
#include "operators/factorized_block.h"
#include "operators/inception_block.h"
#include "operators/low_rank_block.h"
#include "operators/mixed_conv.h"
#include "operators/operator_registry.h"

namespace adascale::operators {

void register_builtin_operators(OperatorRegistry& registry) {
  registry.add<BasicBlock>("basic", basic_block_traits());
  registry.add<DepthwiseSeparable>("dws", depthwise_separable_traits());
  registry.add<MixedConv>("mixconv", mixed_conv_traits());
  registry.add<InceptionBlock>("inception", inception_block_traits());
  registry.add<DenseBlock>("dense", dense_block_traits());
  registry.add<FactorizedBlock>("factorized", factorized_block_traits());
  registry.add<LowRankBlock>("lowrank", low_rank_block_traits());
}

}  // namespace adascale::operators
