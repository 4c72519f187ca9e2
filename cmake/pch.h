// Precompiled for every project target; see cmake/AdaScaleTarget.cmake.
#pragma once
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
