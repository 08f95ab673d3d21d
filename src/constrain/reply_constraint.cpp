#include "constrain/reply_constraint.h"

namespace muse::constrain {

std::shared_ptr<const TokenBytes> TokenBytes::of(const Tokenizer& tok) {
  auto out = std::make_shared<TokenBytes>();
  const int n = tok.vocab_size();
  out->bytes.resize(static_cast<size_t>(n));
  out->special.assign(static_cast<size_t>(n), 0);
  out->single.fill(-1);
  static const std::string kSpace = "\xe2\x96\x81";  // SentencePiece's "▁"
  for (int id = 0; id < n; ++id) {
    if (tok.is_special(id)) {
      out->special[static_cast<size_t>(id)] = 1;
      continue;
    }
    const std::string piece = tok.piece(id);
    std::string bytes;
    if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>') {
      bytes.push_back(static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
    } else {
      for (size_t i = 0; i < piece.size();) {
        if (piece.compare(i, kSpace.size(), kSpace) == 0) {
          bytes.push_back(' ');
          i += kSpace.size();
        } else {
          bytes.push_back(piece[i++]);
        }
      }
    }
    // The model's own piece for a character rather than its byte-fallback twin.
    const bool byte_piece = piece.size() == 6 && piece.compare(0, 3, "<0x") == 0;
    int& single = out->single[static_cast<unsigned char>(bytes.empty() ? 0 : bytes[0])];
    if (bytes.size() == 1 && (single < 0 || !byte_piece)) single = id;
    out->bytes[static_cast<size_t>(id)] = std::move(bytes);
  }
  return out;
}

ReplyTokens ReplyTokens::of(const Tokenizer& tok) {
  ReplyTokens t;
  t.think_end = tok.special(Special::ThinkEnd);
  t.end_of_turn = tok.special(Special::EndOfTurn);
  t.eos = tok.eos();
  t.call_begin = tok.special(Special::ToolCallBegin);
  t.call_end = tok.special(Special::ToolCallEnd);
  return t;
}

const FunctionSpec* ReplyRules::find(const std::string& name) const {
  for (const auto& f : functions)
    if (f.name == name) return &f;
  return nullptr;
}

ReplyConstraint::ReplyConstraint(std::shared_ptr<const TokenBytes> vocab, ReplyTokens tokens,
                                 std::shared_ptr<const ReplyRules> rules)
    : vocab_(std::move(vocab)), tokens_(tokens), rules_(std::move(rules)) {
  call_pending_ = rules_->call != CallChoice::Free;
}

void ReplyConstraint::take(unsigned char c) {
  switch (phase_) {
    case Phase::CallName: {
      if (c != ' ') {
        name_.push_back(static_cast<char>(c));
        // A body that is not "NAME {...}" (e.g. {"name": ...}) or a runaway name is not a client call.
        if (name_.size() > 64 || c == '{') phase_ = Phase::CallFree;
        return;
      }
      const FunctionSpec* f = rules_->find(name_);
      if (!f) {
        phase_ = Phase::CallFree;  // a built-in tool (or an unknown one): the session answers it
        return;
      }
      json_.emplace(f->parameters);
      phase_ = Phase::CallArgs;
      return;
    }
    case Phase::CallArgs:
      if (!json_->feed(c)) phase_ = Phase::CallFree;  // only a forced token can break it: stop constraining
      return;
    case Phase::Answer:
      if (json_ && !json_->feed(c)) json_.reset();
      return;
    default: return;
  }
}

void ReplyConstraint::append(int token) {
  if (token < 0 || static_cast<size_t>(token) >= vocab_->bytes.size()) return;
  if (vocab_->special[static_cast<size_t>(token)]) {
    const bool in_call = phase_ == Phase::CallName || phase_ == Phase::CallArgs || phase_ == Phase::CallFree;
    if (token == tokens_.call_begin && (phase_ == Phase::Thinking || phase_ == Phase::Answer)) {
      outer_ = phase_;
      phase_ = Phase::CallName;
      name_.clear();
      json_.reset();
      forced_name_ = call_pending_;
      call_pending_ = false;
    } else if (token == tokens_.call_end && in_call) {
      phase_ = outer_;
      json_.reset();
      if (phase_ == Phase::Answer && rules_->answer) json_.emplace(rules_->answer);
    } else if (token == tokens_.think_end && phase_ == Phase::Thinking) {
      phase_ = Phase::Answer;
      if (rules_->answer) json_.emplace(rules_->answer);
    } else if ((token == tokens_.end_of_turn || token == tokens_.eos) && !in_call) {
      phase_ = Phase::Done;
    }
    return;  // tool results and other structure tokens, forced in by the caller, change nothing
  }
  for (unsigned char c : vocab_->bytes[static_cast<size_t>(token)]) take(c);
}

bool ReplyConstraint::fits(const std::string& bytes) const {
  if (bytes.empty()) return false;
  if (phase_ == Phase::CallName) {
    // The forced call's name: a prefix of a function's name, then a space, then its arguments.
    std::string name = name_;
    std::optional<JsonMatcher> args;
    for (unsigned char c : bytes) {
      if (args) {
        if (!args->feed(c)) return false;
        continue;
      }
      if (c == ' ') {
        const FunctionSpec* f = rules_->find(name);
        if (!f || (rules_->call == CallChoice::Named && name != rules_->named)) return false;
        args.emplace(f->parameters);
        continue;
      }
      name.push_back(static_cast<char>(c));
      bool prefix = false;
      for (const auto& f : rules_->functions)
        if ((rules_->call != CallChoice::Named || f.name == rules_->named) && f.name.compare(0, name.size(), name) == 0)
          prefix = true;
      if (!prefix) return false;
    }
    return true;
  }
  JsonMatcher m = *json_;
  return m.feed(bytes);
}

TokenConstraint::Next ReplyConstraint::next(std::vector<uint8_t>& allowed) const {
  Next out;
  const bool restricted_name = phase_ == Phase::CallName && forced_call();
  const bool restricted_json = (phase_ == Phase::CallArgs || phase_ == Phase::Answer) && json_.has_value();
  if (phase_ == Phase::Thinking && call_pending_) {
    out.forced = tokens_.call_begin;
    return out;
  }
  if (!restricted_name && !restricted_json) return out;
  if (restricted_json && json_->finished()) {
    out.forced = phase_ == Phase::CallArgs ? tokens_.call_end : tokens_.end_of_turn;
    return out;
  }
  const size_t n = vocab_->bytes.size();
  allowed.assign(n, 0);
  size_t count = 0;
  for (size_t id = 0; id < n; ++id) {
    if (vocab_->special[id]) continue;
    if (fits(vocab_->bytes[id])) allowed[id] = 1, ++count;
  }
  // A whole answer that could go on (a number) may also end here.
  if (phase_ == Phase::Answer && json_->complete()) allowed[static_cast<size_t>(tokens_.end_of_turn)] = 1, ++count;
  if (count == 0) {
    // The schema asks for more than the vocabulary can write from here (e.g. nesting past its limit): close.
    out.forced = phase_ == Phase::Answer ? tokens_.end_of_turn : tokens_.call_end;
    return out;
  }
  out.restricted = true;
  // The model's wish to end (the answer, or the call) goes to the character that closes the value, so a
  // number it has finished is not drawn out digit by digit.
  if (restricted_json) {
    if (const auto c = json_->closer()) {
      out.steer_from = phase_ == Phase::Answer ? tokens_.end_of_turn : tokens_.call_end;
      out.steer_to = vocab_->single[static_cast<unsigned char>(*c)];
      if (out.steer_to < 0 || !allowed[static_cast<size_t>(out.steer_to)]) out.steer_from = out.steer_to = -1;
    }
  }
  return out;
}

}  // namespace muse::constrain
