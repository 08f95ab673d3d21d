// A test constraint that makes the engine write a fixed script: one token per step, then `end`. Tokens appended
// that are not the script's next (results a harness forces in) pass through, and the script resumes after them.
#pragma once
#include <memory>
#include <utility>
#include <vector>

#include "constrain/token_constraint.h"

namespace muse::test {

class Script : public TokenConstraint {
 public:
  Script(std::vector<int> tokens, int end) : tokens_(std::move(tokens)), end_(end) {}
  std::unique_ptr<TokenConstraint> clone() const override { return std::make_unique<Script>(*this); }
  Next next(std::vector<uint8_t>&) const override {
    Next n;
    n.forced = at_ < tokens_.size() ? tokens_[at_] : end_;
    return n;
  }
  void append(int token) override {
    if (at_ < tokens_.size() && token == tokens_[at_]) ++at_;
  }

 private:
  std::vector<int> tokens_;
  int end_;
  size_t at_ = 0;
};

}  // namespace muse::test
