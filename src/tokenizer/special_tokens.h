// Special tokens of Muse's chat / reasoning / tool / agent / multimodal format.
// All are reserved from the first tokenizer on, so later capabilities never change the vocabulary layout.
// They are SentencePiece control symbols: encoding user text can never produce them (no prompt injection
// of "<|tool_call|>" through plain text); only the renderer inserts them by id.
#pragma once
#include <array>
#include <string_view>

namespace muse {

enum class Special : int {
  System, User, Assistant, Tool,  // role headers
  EndOfTurn,                      // closes every message
  ThinkBegin, ThinkEnd,           // the reasoning span
  Answer,                         // marks the start of the final answer (optional; answer follows ThinkEnd)
  ToolCallBegin, ToolCallEnd,     // a tool call (JSON inside)
  ToolResultBegin, ToolResultEnd, // a tool's result, inserted by the harness
  ImageBegin, ImageEnd, ImageRowEnd, ImagePatch,  // image segments (patch positions hold embeddings)
  TableBegin, TableEnd, TableRowEnd, TableCellSep, // table segments
  SpawnBegin, SpawnEnd,           // spawning a sub-agent
  AgentResultBegin, AgentResultEnd,
  Continue,                       // budget-forcing continuation cue ("keep thinking")
  Count
};

inline constexpr std::array<std::string_view, static_cast<int>(Special::Count)> kSpecialNames = {
    "<|system|>", "<|user|>", "<|assistant|>", "<|tool|>",
    "<|end|>",
    "<|think|>", "<|/think|>",
    "<|answer|>",
    "<|tool_call|>", "<|/tool_call|>",
    "<|tool_result|>", "<|/tool_result|>",
    "<|image|>", "<|/image|>", "<|image_row|>", "<|patch|>",
    "<|table|>", "<|/table|>", "<|table_row|>", "<|cell|>",
    "<|spawn|>", "<|/spawn|>",
    "<|agent_result|>", "<|/agent_result|>",
    "<|continue|>",
};

// Spare control symbols for capabilities nobody has asked for yet, so adding one keeps ids stable.
inline constexpr int kReservedSpecials = 16;

}  // namespace muse
