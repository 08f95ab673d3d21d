// Muon: SGD momentum whose update is orthogonalised by a few Newton–Schulz iterations before it is applied, for
// the hidden weight matrices of the transformer (Keller Jordan's optimizer from the modded-nanogpt speedrun).
// An orthogonalised update changes every direction of a matrix by about the same amount, where Adam's update is
// dominated by a few large singular directions; at small scale this learns markedly more per step.
//
// Matrices of one shape are orthogonalised together (one batched matmul per iteration): a transformer repeats
// the same few shapes in every layer. State is one momentum tensor per matrix ("muon_momentum/NAME").
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>

namespace muse {

struct MuonParams {
  double momentum = 0.95;
  bool nesterov = true;      // update with g + momentum * buffer (the look-ahead), as modded-nanogpt does
  int ns_steps = 5;          // Newton–Schulz iterations; 5 brings all singular values into ~[0.7, 1.2]
  double weight_decay = 0.0; // decoupled, times the learning rate

  void validate() const;     // MuseError naming the field
};

using NamedTensor = std::pair<std::string, at::Tensor>;

class Muon {
 public:
  // Every parameter must be a matrix (2-D).
  Muon(const std::vector<NamedTensor>& matrices, const MuonParams& params);
  void step(double lr);
  std::map<std::string, at::Tensor> state() const;  // "muon_momentum/NAME"
  void load_state(const std::map<std::string, at::Tensor>& state, const std::string& origin);
  size_t size() const { return slots_.size(); }

 private:
  struct Slot {
    std::string name;
    at::Tensor param, momentum;
  };
  std::vector<Slot> slots_;
  std::vector<std::vector<size_t>> same_shape_;  // slot indices grouped by matrix shape
  MuonParams params_;
};

// The orthogonal factor U V^T of each matrix in G [n, rows, cols] (approximately: singular values land in
// ~[0.7, 1.2]), by the quintic Newton–Schulz iteration with modded-nanogpt's coefficients. Float32.
at::Tensor orthogonalize(const at::Tensor& G, int steps);

}  // namespace muse
