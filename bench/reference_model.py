#!/usr/bin/python3
"""The Muse model and training step in plain Python PyTorch, to measure what C++ buys (docs/PERFORMANCE.md).

Run with /usr/bin/python3 (Debian python3-torch 1.13, the same libtorch_cpu and OpenBLAS the C++ build links).

  reference_model.py --bench [--preset tiny] [--batch 64] [--seq-len 64] [--warmup 3] [--steps 10]
                     [--docs 4] [--kv-heads H] [--torch-threads 1] [--blas-threads 0] [--grad-none] [--foreach]
      One JSON line with the fields bench_train prints (tokens_per_s, ms_per_step, gflops, ...).
  reference_model.py --check DIR
      DIR is written by `dump_logits --out DIR`: loads Muse's weights, recomputes logits, the first step's
      loss and gradient norm, and the logits after the same training steps; prints max |diff| of each.
  reference_model.py --profile [--preset small] [--batch 16] [--seq-len 128] [--steps 5]
      torch.autograd.profiler table of the training step (self CPU time per op).

Model (= src/model/transformer.cpp): pre-RMSNorm (x * rsqrt(mean(x^2) + eps) * w), interleaved-pair rotary
with M-RoPE sections spread across the spectrum (mrope_pair_axes; text ids equal on all axes = plain RoPE),
manual causal attention with document masking of packed rows, optional GQA and QK-norm, SwiGLU, no biases,
untied lm_head. Training step (= src/training/pretrain.cpp): cross-entropy (ignore_index -1), backward,
loss.item(), global-norm clipping at 1.0, AdamW (betas 0.9/0.95, eps 1e-8, wd 0.1 on everything except
"*norm*" and "embed.*", Muse's update formula), zero_grad.
--grad-none / --foreach are experiments, not the reference: gradients set to None instead of zeroed, and
torch._foreach_* multi-tensor ops for clipping and AdamW.
"""
import argparse
import ctypes
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ---------------------------------------------------------------------------------------------- config
def config_for_depth(depth):
    """src/model/config.cpp config_for_depth."""
    width = 128.0 * 2.0 ** ((depth - 4) / 2.0)
    d_model = max(64, round(width / 64.0) * 64)
    head_dim = 32 if d_model <= 256 else 64
    pairs = head_dim // 2
    return dict(preset="depth%d" % depth, vocab_size=512 if d_model <= 128 else (2048 if d_model <= 256 else 4096),
                d_model=d_model, n_layers=depth, n_heads=d_model // head_dim, n_kv_heads=d_model // head_dim,
                ffn_hidden=3 * d_model, max_seq_len=512, rope_theta=10000.0,
                mrope_sections=[pairs // 2, pairs // 4, pairs - pairs // 2 - pairs // 4], norm_eps=1e-5,
                qk_norm=False, z_loss=0.0, init_std=0.02)


def preset_config(name):
    depth = {"tiny": 4, "small": 6, "base": 8}[name]
    c = config_for_depth(depth)
    c["preset"] = name
    return c


def parameter_count(c):
    hd = c["d_model"] // c["n_heads"]
    d = c["d_model"]
    attn = d * c["n_heads"] * hd + 2 * d * c["n_kv_heads"] * hd + c["n_heads"] * hd * d
    ffn = 3 * d * c["ffn_hidden"]
    norms = 2 * d + (2 * hd if c["qk_norm"] else 0)
    return 2 * c["vocab_size"] * d + c["n_layers"] * (attn + ffn + norms) + d


def train_flops_per_token(c, seq_len):
    weights = float(parameter_count(c) - c["vocab_size"] * c["d_model"])
    return 6.0 * weights + 6.0 * c["n_layers"] * c["d_model"] * float(seq_len)


def default_learning_rate(c):
    return 3e-3 * math.sqrt(128.0 / c["d_model"])


# ----------------------------------------------------------------------------------------------- model
class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def apply_rotary(x, cos, sin):
    """Adjacent pairs (2i, 2i+1) rotate by angle_i (llama.cpp layout). x [B,T,H,hd], cos/sin [B,T,1,hd/2]."""
    pairs = x.unflatten(-1, (x.shape[-1] // 2, 2))
    x0, x1 = pairs[..., 0], pairs[..., 1]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), -1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, hd = c["d_model"], c["d_model"] // c["n_heads"]
        self.n_heads, self.n_kv_heads, self.head_dim = c["n_heads"], c["n_kv_heads"], hd
        self.attn_norm = RMSNorm(d, c["norm_eps"])
        self.wq = nn.Linear(d, c["n_heads"] * hd, bias=False)
        self.wk = nn.Linear(d, c["n_kv_heads"] * hd, bias=False)
        self.wv = nn.Linear(d, c["n_kv_heads"] * hd, bias=False)
        self.wo = nn.Linear(c["n_heads"] * hd, d, bias=False)
        self.qk_norm = c["qk_norm"]
        if self.qk_norm:
            self.q_norm = RMSNorm(hd, c["norm_eps"])
            self.k_norm = RMSNorm(hd, c["norm_eps"])
        self.ffn_norm = RMSNorm(d, c["norm_eps"])
        self.w_gate = nn.Linear(d, c["ffn_hidden"], bias=False)
        self.w_up = nn.Linear(d, c["ffn_hidden"], bias=False)
        self.w_down = nn.Linear(c["ffn_hidden"], d, bias=False)

    def attention(self, x, cos, sin, mask):
        B, T, _ = x.shape
        H, Hkv, hd = self.n_heads, self.n_kv_heads, self.head_dim
        q = self.wq(x).view(B, T, H, hd)
        k = self.wk(x).view(B, T, Hkv, hd)
        v = self.wv(x).view(B, T, Hkv, hd)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q = apply_rotary(q, cos, sin).transpose(1, 2)  # [B, H, T, hd]
        k = apply_rotary(k, cos, sin).transpose(1, 2)
        v = v.transpose(1, 2)
        if Hkv != H:  # grouped-query attention: kv head j serves query heads j*H/Hkv .. (j+1)*H/Hkv-1
            k = k.unsqueeze(2).expand(B, Hkv, H // Hkv, T, hd).reshape(B, H, T, hd)
            v = v.unsqueeze(2).expand(B, Hkv, H // Hkv, T, hd).reshape(B, H, T, hd)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        out = torch.softmax(scores, -1) @ v
        return self.wo(out.transpose(1, 2).reshape(B, T, H * hd))

    def forward(self, x, cos, sin, mask):
        h = x + self.attention(self.attn_norm(x), cos, sin, mask)
        n = self.ffn_norm(h)
        return h + self.w_down(F.silu(self.w_gate(n)) * self.w_up(n))


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.config = c
        self.embed = nn.Embedding(c["vocab_size"], c["d_model"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["n_layers"]))
        self.norm = RMSNorm(c["d_model"], c["norm_eps"])
        self.lm_head = nn.Linear(c["d_model"], c["vocab_size"], bias=False)
        hd = c["d_model"] // c["n_heads"]
        pairs = hd // 2
        inv_freq = torch.pow(c["rope_theta"], -torch.arange(0, pairs, dtype=torch.float64) * 2.0 / hd).float()
        axis = mrope_pair_axes(c["mrope_sections"], pairs)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.register_buffer("pair_axis", torch.tensor(axis, dtype=torch.int64), persistent=False)
        self.initialize_weights()

    @torch.no_grad()
    def initialize_weights(self):
        c = self.config
        std = c["init_std"]
        residual_std = std / math.sqrt(2.0 * c["n_layers"])
        self.embed.weight.normal_(0.0, 1.0)
        for block in self.layers:
            for lin in (block.wq, block.wk, block.wv, block.w_gate, block.w_up):
                lin.weight.normal_(0.0, std)
            block.wo.weight.normal_(0.0, residual_std)
            block.w_down.weight.normal_(0.0, residual_std)
        self.lm_head.weight.zero_()

    def forward(self, tokens, positions, document_ids=None):
        angles = (positions.index_select(2, self.pair_axis).float() * self.inv_freq).unsqueeze(2)  # [B,T,1,hd/2]
        cos, sin = angles.cos(), angles.sin()
        mask = attention_mask(tokens.shape[1], document_ids)  # once per forward, shared by layers
        x = self.embed(tokens)
        for block in self.layers:
            x = block(x, cos, sin, mask)
        return self.lm_head(self.norm(x))


def attention_mask(T, document_ids=None):
    """True where attention is blocked: causal [T, T], or [B, 1, T, T] when packed rows carry document ids."""
    if T == 1 and document_ids is None:
        return None
    blocked = torch.ones(T, T, dtype=torch.bool).triu(1)
    if document_ids is not None:
        blocked = blocked.unsqueeze(0) | document_ids.unsqueeze(2).ne(document_ids.unsqueeze(1))
        return blocked.unsqueeze(1)
    return blocked


def mrope_pair_axes(sections, pairs):
    """src/model/transformer.cpp mrope_pair_axes: which of (t, row, col) each rotary pair follows. The sections
    are interleaved across the spectrum: each pair goes to the axis with the largest fraction of quota left."""
    assert sum(sections) == pairs, "mrope_sections must sum to head_dim/2"
    used = [0, 0, 0]
    axis = []
    for _ in range(pairs):
        best, best_left = -1, -1.0
        for a in range(3):
            if used[a] >= sections[a]:
                continue
            left = (sections[a] - used[a]) / sections[a]
            if left > best_left:
                best, best_left = a, left
        axis.append(best)
        used[best] += 1
    return axis


def text_positions(batch, length):
    return torch.arange(length).view(1, length, 1).expand(batch, length, 3).contiguous()


def random_batch(vocab, B, T, docs):
    """bench_train's random_batch: packed rows of `docs` documents (positions restart, document ids, target -1
    before a document start); docs == 0: one causal row, no document ids."""
    row = torch.randint(0, vocab, (B, T + 1))
    tokens, targets = row[:, :T].clone(), row[:, 1:].clone()
    if docs == 0:
        return tokens, targets, text_positions(B, T), None
    document_ids = torch.empty(B, T, dtype=torch.int64)
    t_ids = torch.empty(B, T, dtype=torch.int64)
    for r in range(B):
        starts = set((torch.randperm(T - 1)[:docs - 1] + 1).tolist())
        doc, start = 0, 0
        for t in range(T):
            if t in starts:
                doc, start = doc + 1, t
            document_ids[r, t] = doc
            t_ids[r, t] = t - start
            if t + 1 in starts:
                targets[r, t] = -1
    return tokens, targets, t_ids.unsqueeze(-1).expand(B, T, 3).contiguous(), document_ids


# ------------------------------------------------------------------------------------------- training
def language_model_loss(logits, targets, z_loss):
    flat_logits = logits.reshape(-1, logits.shape[-1])
    flat_targets = targets.reshape(-1)
    ce = F.cross_entropy(flat_logits, flat_targets, ignore_index=-1)
    total = ce
    if z_loss > 0:
        valid = flat_targets.ge(0)
        total = total + z_loss * flat_logits.logsumexp(-1).pow(2).masked_select(valid).mean()
    return total, ce


class AdamW:
    """src/training/adamw.cpp: same groups, same update formula, same op order."""

    def __init__(self, model, beta1=0.9, beta2=0.95, eps=1e-8, weight_decay=0.1, foreach=False):
        self.beta1, self.beta2, self.eps, self.weight_decay, self.foreach = beta1, beta2, eps, weight_decay, foreach
        self.slots = []
        for name, p in model.named_parameters():
            decay = "norm" not in name and not name.startswith("embed.")
            self.slots.append((p, torch.zeros_like(p), torch.zeros_like(p), decay))
        self.step_count = 0

    @torch.no_grad()
    def step(self, lr):
        self.step_count += 1
        bias1 = 1.0 - self.beta1 ** self.step_count
        bias2 = 1.0 - self.beta2 ** self.step_count
        if self.foreach:
            return self._step_foreach(lr, bias1, bias2)
        for p, exp_avg, exp_avg_sq, decay in self.slots:
            grad = p.grad
            if grad is None:
                continue
            exp_avg.mul_(self.beta1).add_(grad, alpha=1.0 - self.beta1)
            exp_avg_sq.mul_(self.beta2).addcmul_(grad, grad, value=1.0 - self.beta2)
            if decay and self.weight_decay > 0:
                p.mul_(1.0 - lr * self.weight_decay)
            denom = (exp_avg_sq / bias2).sqrt_().add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=-lr / bias1)

    def _step_foreach(self, lr, bias1, bias2):
        live = [s for s in self.slots if s[0].grad is not None]
        params = [s[0] for s in live]
        grads = [s[0].grad for s in live]
        m = [s[1] for s in live]
        v = [s[2] for s in live]
        torch._foreach_mul_(m, self.beta1)
        torch._foreach_add_(m, grads, alpha=1.0 - self.beta1)
        torch._foreach_mul_(v, self.beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - self.beta2)
        decayed = [s[0] for s in live if s[3]]
        if decayed and self.weight_decay > 0:
            torch._foreach_mul_(decayed, 1.0 - lr * self.weight_decay)
        denom = torch._foreach_div(v, bias2)
        torch._foreach_sqrt_(denom)
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(params, m, denom, value=-lr / bias1)

    def zero_grad(self, set_to_none=False):
        for p, _, _, _ in self.slots:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()


@torch.no_grad()
def clip_grad_norm(model, max_norm, foreach=False):
    """src/training/adamw.cpp clip_grad_norm: sum of squares, one sync, scale only when above max_norm."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    if foreach:
        norm = torch.stack(torch._foreach_norm(grads)).norm().item()
    else:
        norm = math.sqrt(torch.stack([g.pow(2).sum() for g in grads]).sum().item())
    if max_norm > 0 and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        if foreach:
            torch._foreach_mul_(grads, scale)
        else:
            for g in grads:
                g.mul_(scale)
    return norm


def train_step(model, optimizer, tokens, positions, targets, lr, grad_clip=1.0, set_to_none=False, foreach=False,
               document_ids=None):
    logits = model(tokens, positions, document_ids)
    total, ce = language_model_loss(logits, targets, model.config["z_loss"])
    total.backward()
    loss = ce.item()
    norm = clip_grad_norm(model, grad_clip, foreach)
    optimizer.step(lr)
    optimizer.zero_grad(set_to_none)
    return loss, norm


# --------------------------------------------------------------------------------------------- threads
def configure_threads(torch_threads, blas_threads):
    """src/runtime/runtime.cpp: 1 torch intra-op thread; OpenBLAS keeps its own pool (all cores by default)."""
    import os
    torch.set_num_threads(torch_threads if torch_threads > 0 else 1)
    cores = os.cpu_count() or 1
    try:
        blas = ctypes.CDLL("libopenblas.so.0")  # the copy libtorch_cpu already loaded (same soname)
        blas.openblas_set_num_threads(blas_threads if blas_threads > 0 else cores)
        blas.openblas_get_corename.restype = ctypes.c_char_p
        return blas.openblas_get_num_threads(), blas.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return -1, "unknown"


# ------------------------------------------------------------------------------------------------ bench
def bench(args):
    blas_threads, blas_core = configure_threads(args.torch_threads, args.blas_threads)
    c = preset_config(args.preset)
    if args.kv_heads > 0:
        c["n_kv_heads"] = args.kv_heads
    c["max_seq_len"] = max(c["max_seq_len"], args.seq_len)
    torch.manual_seed(args.seed)
    model = Transformer(c)
    model.train()
    optimizer = AdamW(model, foreach=args.foreach)
    lr = default_learning_rate(c)
    B, T = args.batch, args.seq_len
    batches = [random_batch(c["vocab_size"], B, T, args.docs) for _ in range(args.warmup + args.steps)]
    step_ms, losses = [], []
    for i, (tokens, targets, positions, document_ids) in enumerate(batches):
        start = time.perf_counter()
        loss, _ = train_step(model, optimizer, tokens, positions, targets, lr, 1.0, args.grad_none, args.foreach,
                             document_ids)
        ms = (time.perf_counter() - start) * 1e3
        losses.append(loss)
        if i >= args.warmup:
            step_ms.append(ms)
    total_ms = sum(step_ms)
    tokens_per_s = B * T * args.steps / (total_ms / 1e3)
    fpt = train_flops_per_token(c, T)
    impl = "python" + ("+grad_none" if args.grad_none else "") + ("+foreach" if args.foreach else "")
    print(json.dumps({
        "impl": impl, "preset": c["preset"], "batch": B, "seq_len": T, "docs": args.docs, "n_kv_heads": c["n_kv_heads"],
        "params": parameter_count(c), "flops_per_token": fpt, "warmup": args.warmup, "steps": args.steps,
        "tokens_per_s": tokens_per_s, "ms_per_step": total_ms / args.steps,
        "ms_per_step_median": sorted(step_ms)[len(step_ms) // 2], "gflops": tokens_per_s * fpt / 1e9,
        "loss_first": losses[0], "loss_last": losses[-1], "torch_threads": torch.get_num_threads(),
        "blas_threads": blas_threads, "blas_core": blas_core}, sort_keys=True))


def profiled_train_step(model, optimizer, tokens, positions, targets, lr, document_ids):
    """train_step with a profiler label per phase (labels show up as rows named "phase: ...")."""
    rf = torch.autograd.profiler.record_function
    with rf("phase: forward"):
        logits = model(tokens, positions, document_ids)
    with rf("phase: loss"):
        total, ce = language_model_loss(logits, targets, model.config["z_loss"])
    with rf("phase: backward"):
        total.backward()
    with rf("phase: loss.item"):
        ce.item()
    with rf("phase: clip_grad_norm"):
        clip_grad_norm(model, 1.0)
    with rf("phase: adamw.step"):
        optimizer.step(lr)
    with rf("phase: zero_grad"):
        optimizer.zero_grad()


def profile(args):
    configure_threads(args.torch_threads, args.blas_threads)
    c = preset_config(args.preset)
    torch.manual_seed(args.seed)
    model = Transformer(c)
    optimizer = AdamW(model)
    lr = default_learning_rate(c)
    B, T = args.batch, args.seq_len
    tokens, targets, positions, document_ids = random_batch(c["vocab_size"], B, T, args.docs)
    for _ in range(args.warmup):
        train_step(model, optimizer, tokens, positions, targets, lr, document_ids=document_ids)
    with torch.autograd.profiler.profile() as prof:
        start = time.perf_counter()
        for _ in range(args.steps):
            profiled_train_step(model, optimizer, tokens, positions, targets, lr, document_ids)
        wall_ms = (time.perf_counter() - start) * 1e3 / args.steps
    averages = prof.key_averages()
    total_us = sum(e.self_cpu_time_total for e in averages if not e.key.startswith("phase: "))
    print("# %s B%d T%d docs %d, %d steps profiled: %.1f ms/step wall (with profiler), %.1f ms/step self time "
          "in ops" % (args.preset, B, T, args.docs, args.steps, wall_ms, total_us / 1e3 / args.steps))
    print("# phases (ms/step):", ", ".join("%s %.2f" % (e.key[7:], e.cpu_time_total / 1e3 / args.steps)
                                          for e in averages if e.key.startswith("phase: ")))
    print(averages.table(sort_by="self_cpu_time_total", row_limit=args.rows))


# ------------------------------------------------------------------------------------------------ check
NUMPY_DTYPES = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1"}


def read_safetensors(path):
    """Minimal reader: u64 LE header length, JSON header, raw little-endian C-order data."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {}) or {}
    data = blob[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=NUMPY_DTYPES[info["dtype"]])
        tensors[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
        if info["dtype"] in ("F16", "BF16"):
            tensors[name] = tensors[name].float()
    return tensors, metadata


def check(args):
    configure_threads(args.torch_threads, args.blas_threads)
    weights, _ = read_safetensors(args.check + "/weights.safetensors")
    io, meta = read_safetensors(args.check + "/io.safetensors")
    c = json.loads(meta["config"])
    lr = float(meta["lr"])
    train_steps = int(meta["train_steps"])
    model = Transformer(c)
    expected = dict(model.named_parameters())
    missing = set(expected) - set(weights)
    unexpected = set(weights) - set(expected)
    if missing or unexpected:
        sys.exit("FAIL: parameter names differ: missing %s, unexpected %s" % (sorted(missing), sorted(unexpected)))
    with torch.no_grad():
        for name, p in expected.items():
            if tuple(p.shape) != tuple(weights[name].shape):
                sys.exit("FAIL: %s has shape %s in the file, %s here" % (name, tuple(weights[name].shape),
                                                                        tuple(p.shape)))
            p.copy_(weights[name])
    tokens, targets, positions = io["tokens"], io["targets"], io["positions"]
    document_ids = io.get("document_ids")
    with torch.no_grad():
        logits = model(tokens, positions, document_ids)
    optimizer = AdamW(model)
    loss = norm = None
    for s in range(train_steps):
        l, n = train_step(model, optimizer, tokens, positions, targets, lr, document_ids=document_ids)
        if s == 0:
            loss, norm = l, n
    with torch.no_grad():
        logits_after = model(tokens, positions, document_ids)

    def maxdiff(a, b):
        return (a - b).abs().max().item()

    results = {
        "config": "%s V%d d%d L%d H%d Hkv%d qk_norm=%s" % (c["preset"], c["vocab_size"], c["d_model"], c["n_layers"],
                                                          c["n_heads"], c["n_kv_heads"], c["qk_norm"]),
        "batch": tokens.shape[0], "seq_len": tokens.shape[1],
        "documents_per_row": int(document_ids.max(1).values.float().mean().item()) + 1 if document_ids is not None
        else 0, "mrope_positions": bool((positions[..., 1] != positions[..., 0]).any().item()),
        "logits_max_abs": logits.abs().max().item(),
        "logits_max_abs_diff": maxdiff(logits, io["logits"]),
        "loss_abs_diff": abs(loss - io["loss"].item()) if loss is not None else None,
        "grad_norm_abs_diff": abs(norm - io["grad_norm"].item()) if norm is not None else None,
        "train_steps": train_steps,
        "logits_after_steps_max_abs_diff": maxdiff(logits_after, io["logits_after"]),
    }
    print(json.dumps(results))
    # AdamW's first steps move every weight by ~lr whatever the gradient's size, so float noise in tiny gradients
    # grows: the after-steps logits get a looser bound than the forward pass.
    after_tolerance = 20 * args.tolerance
    ok = (results["logits_max_abs_diff"] < args.tolerance and
          results["logits_after_steps_max_abs_diff"] < after_tolerance)
    print("OK" if ok else "FAIL: max abs diff above %g (logits) or %g (after steps)" % (args.tolerance,
                                                                                      after_tolerance))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--bench", action="store_true")
    mode.add_argument("--check", metavar="DIR")
    mode.add_argument("--profile", action="store_true")
    ap.add_argument("--preset", default="tiny", choices=["tiny", "small", "base"])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--kv-heads", type=int, default=0)
    ap.add_argument("--docs", type=int, default=4, help="documents per packed row (0: no document ids)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--torch-threads", type=int, default=1)
    ap.add_argument("--blas-threads", type=int, default=0)
    ap.add_argument("--grad-none", action="store_true", help="experiment: zero_grad sets gradients to None")
    ap.add_argument("--foreach", action="store_true", help="experiment: torch._foreach_* clipping and AdamW")
    ap.add_argument("--rows", type=int, default=25, help="--profile: table rows")
    ap.add_argument("--tolerance", type=float, default=1e-4,
                    help="--check: max abs logits diff accepted (20x that after the training steps)")
    args = ap.parse_args()
    if args.bench:
        bench(args)
    elif args.profile:
        profile(args)
    else:
        return check(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
