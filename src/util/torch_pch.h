// Precompiled header for translation units that use libtorch (see CMakeLists.txt).
#pragma once
#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/autograd.h>
#include <nlohmann/json.hpp>
