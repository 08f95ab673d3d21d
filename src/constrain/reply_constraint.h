// The constrained parts of one chat reply, as a TokenConstraint the engine follows:
//   - response_format json_object / json_schema: the answer (after <|/think|>) is JSON by its schema, then
//     <|end|> is forced; the thinking stays free.
//   - a client's function tools: a call the model writes to one of them (<|tool_call|>NAME {ARGS}) gets its
//     ARGS by the function's parameter schema, then <|/tool_call|> is forced.
//   - tool_choice required / named: the reply opens with the call (<|tool_call|> forced, the name chosen among
//     the functions, or the named one), its arguments by the schema.
// Built-in tools' calls and everything else are left as the model writes them.
//
//   auto vocab = TokenBytes::of(tok);                       // once per tokenizer
//   params.constraint = std::make_shared<ReplyConstraint>(vocab, ReplyTokens::of(tok), rules);
#pragma once
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "constrain/json_schema.h"
#include "constrain/token_constraint.h"
#include "tokenizer/tokenizer.h"

namespace muse::constrain {

// Each token's bytes as it writes them (SentencePiece's "▁" as a space, byte pieces as their byte); special
// tokens have none and are marked.
struct TokenBytes {
  std::vector<std::string> bytes;
  std::vector<uint8_t> special;
  std::array<int, 256> single{};  // a token that writes just this byte (-1: none)
  static std::shared_ptr<const TokenBytes> of(const Tokenizer& tok);
};

// The special tokens the reply's rules act on.
struct ReplyTokens {
  int think_end = -1, end_of_turn = -1, eos = -1, call_begin = -1, call_end = -1;
  static ReplyTokens of(const Tokenizer& tok);
};

struct FunctionSpec {
  std::string name;                              // [A-Za-z0-9_-], 1-64 characters
  std::shared_ptr<const JsonSchema> parameters;  // its arguments (an object)
};

enum class CallChoice {
  Free,      // the model calls what it likes, or nothing (tool_choice auto / none)
  Required,  // the reply opens with a call to one of `functions`
  Named,     // the reply opens with a call to `named`
};

struct ReplyRules {
  std::shared_ptr<const JsonSchema> answer;  // the answer is JSON by this schema; null: free text
  std::vector<FunctionSpec> functions;       // the client's functions
  CallChoice call = CallChoice::Free;
  std::string named;                         // CallChoice::Named: one of functions
  const FunctionSpec* find(const std::string& name) const;
};

class ReplyConstraint : public TokenConstraint {
 public:
  ReplyConstraint(std::shared_ptr<const TokenBytes> vocab, ReplyTokens tokens, std::shared_ptr<const ReplyRules> rules);
  std::unique_ptr<TokenConstraint> clone() const override { return std::make_unique<ReplyConstraint>(*this); }
  Next next(std::vector<uint8_t>& allowed) const override;
  void append(int token) override;

  enum class Phase {
    Thinking,  // free (a required call is forced first)
    CallName,  // after <|tool_call|>: the function's name, then a space
    CallArgs,  // a client function's arguments, by its schema
    CallFree,  // a call to something else (a built-in tool): as the model writes it
    Answer,    // after <|/think|>: JSON by the answer schema, or free
    Done,      // after <|end|>
  };
  Phase phase() const { return phase_; }

 private:
  // Feeds one token's bytes to a copy of this state; false when the bytes break the rules of a restricted phase.
  bool fits(const std::string& bytes) const;
  void take(unsigned char c);  // one byte of an appended token
  bool forced_call() const { return forced_name_; }

  std::shared_ptr<const TokenBytes> vocab_;
  ReplyTokens tokens_;
  std::shared_ptr<const ReplyRules> rules_;
  Phase phase_ = Phase::Thinking;
  Phase outer_ = Phase::Thinking;  // where the current call was opened
  bool call_pending_ = false;      // a required call has not been opened yet
  bool forced_name_ = false;       // the current call's name must be one of the client's functions
  std::string name_;
  std::optional<JsonMatcher> json_;  // the arguments (CallArgs) or the answer (Answer with a schema)
};

}  // namespace muse::constrain
