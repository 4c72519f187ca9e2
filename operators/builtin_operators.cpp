// The operators that ship with AdaScale: one line each. A new operator is
// one file (its module) plus one line here.

#include "operators/basic_block.h"
#include "operators/bottleneck_block.h"
#include "operators/dense_block.h"
#include "operators/depthwise_separable.h"
#include "operators/factorized_block.h"
#include "operators/fire_module.h"
#include "operators/ghost_bottleneck.h"
#include "operators/inception_block.h"
#include "operators/inverted_residual.h"
#include "operators/low_rank_block.h"
#include "operators/mixed_conv.h"
#include "operators/operator_registry.h"
#include "operators/shuffle_unit.h"

namespace adascale::operators {

void register_builtin_operators(OperatorRegistry& registry) {
  registry.add<BasicBlock>("basic", basic_block_traits());
  registry.add<BottleneckBlock>("bottleneck", bottleneck_block_traits());
  registry.add<DepthwiseSeparable>("dws", depthwise_separable_traits());
  registry.add<MixedConv>("mixconv", mixed_conv_traits());
  registry.add<InceptionBlock>("inception", inception_block_traits());
  registry.add<DenseBlock>("dense", dense_block_traits());
  registry.add<FactorizedBlock>("factorized", factorized_block_traits());
  registry.add<LowRankBlock>("lowrank", low_rank_block_traits());
  registry.add<InvertedResidual>("mbconv", inverted_residual_traits());
  registry.add<ShuffleUnit>("shuffle", shuffle_unit_traits());
  registry.add<FireModule>("fire", fire_module_traits());
  registry.add<GhostBottleneck>("ghost", ghost_bottleneck_traits());
}

}  // namespace adascale::operators
