#!/usr/bin/env python3
"""The GPU check's peer: the same GGUF llama model on the ordinary, non-deterministic path.

A plain llama forward in torch (RMSNorm, llama.cpp's "normal" RoPE on adjacent pairs, grouped-
query attention over a KV cache, SwiGLU, the output head tied to the token embedding when the
file has no output.weight), weights dequantized by gguf_numpy.py and held in f16 (or f32) on the
device, products by torch's default (cuBLAS on CUDA). It greedily decodes from given prompt
token ids (detinfer --print-token-ids prints them), times prefill and generation tokens/s with
synchronisation after a warm-up, and prints one JSON object: the figures and the generated ids.

It depends on torch, numpy and the standard library only (what the device machine has).
"""

import argparse
import json
import math
import statistics
import sys
import time

import numpy as np
import torch

from gguf_numpy import GgufFile, llama_hyper


class Llama:
    """The model's weights on `device` in `dtype`, and its forward pass."""

    def __init__(self, path, device, dtype):
        gguf = GgufFile(path)
        self.hp = llama_hyper(gguf)
        self.device = device
        self.dtype = dtype

        def load(name, dtype=dtype):
            return torch.from_numpy(gguf.dequantize(name)).to(device=device, dtype=dtype)

        self.embed = load("token_embd.weight")
        self.output = load("output.weight") if "output.weight" in gguf.tensors else self.embed
        self.output_norm = load("output_norm.weight", torch.float32)
        self.layers = []
        for i in range(self.hp.layers):
            w = lambda part: load(f"blk.{i}.{part}.weight")  # noqa: E731
            self.layers.append(
                {
                    "attn_norm": load(f"blk.{i}.attn_norm.weight", torch.float32),
                    "ffn_norm": load(f"blk.{i}.ffn_norm.weight", torch.float32),
                    "q": w("attn_q"),
                    "k": w("attn_k"),
                    "v": w("attn_v"),
                    "o": w("attn_output"),
                    "gate": w("ffn_gate"),
                    "up": w("ffn_up"),
                    "down": w("ffn_down"),
                }
            )
        half = self.hp.head_dim // 2
        # Angles in f64 as the engine computes them, rounded once to f32.
        inv_freq = self.hp.rope_base ** (-(2.0 * np.arange(half)) / self.hp.head_dim)
        self.inv_freq = torch.from_numpy(inv_freq).to(device)

    def new_cache(self, capacity):
        hp = self.hp
        shape = (hp.layers, capacity, hp.kv_heads, hp.head_dim)
        return {
            "k": torch.empty(shape, device=self.device, dtype=self.dtype),
            "v": torch.empty(shape, device=self.device, dtype=self.dtype),
            "len": 0,
        }

    def _rmsnorm(self, x, weight):
        x32 = x.float()
        scale = torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.hp.rms_eps)
        return (x32 * scale * weight).to(self.dtype)

    def _rope(self, x, cos, sin):
        # x: (tokens, heads, head_dim); rotate adjacent pairs (x[2i], x[2i+1]).
        pairs = x.float().reshape(*x.shape[:-1], -1, 2)
        x0, x1 = pairs[..., 0], pairs[..., 1]
        out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
        return out.reshape(x.shape).to(self.dtype)

    @torch.no_grad()
    def forward(self, tokens, cache):
        """Appends `tokens` (1-D long tensor) to `cache`; returns the last token's logits (f32)."""
        hp = self.hp
        n, start = tokens.shape[0], cache["len"]
        if start + n > cache["k"].shape[1]:
            raise ValueError(f"cache of {cache['k'].shape[1]} positions overflows")
        positions = torch.arange(start, start + n, device=self.device, dtype=torch.float64)
        angles = positions[:, None] * self.inv_freq[None, :]
        cos = angles.cos().float()[:, None, :]
        sin = angles.sin().float()[:, None, :]
        group = hp.heads // hp.kv_heads
        end = start + n
        # Causal mask over the cached keys: query t (at start + t) sees keys 0..=start + t.
        keys = torch.arange(end, device=self.device)
        queries = torch.arange(start, end, device=self.device)
        masked = keys[None, :] > queries[:, None]
        x = self.embed[tokens]
        for l, layer in enumerate(self.layers):
            h = self._rmsnorm(x, layer["attn_norm"])
            q = self._rope((h @ layer["q"].T).view(n, hp.heads, hp.head_dim), cos, sin)
            k = self._rope((h @ layer["k"].T).view(n, hp.kv_heads, hp.head_dim), cos, sin)
            v = (h @ layer["v"].T).view(n, hp.kv_heads, hp.head_dim)
            cache["k"][l, start:end] = k
            cache["v"][l, start:end] = v
            keys_l = cache["k"][l, :end].repeat_interleave(group, dim=1)  # (end, heads, hd)
            values_l = cache["v"][l, :end].repeat_interleave(group, dim=1)
            scores = torch.einsum("thd,shd->hts", q.float(), keys_l.float())
            scores = scores / math.sqrt(hp.head_dim)
            scores = scores.masked_fill(masked[None], float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            attn = torch.einsum("hts,shd->thd", probs, values_l.float()).to(self.dtype)
            x = x + attn.reshape(n, hp.embedding) @ layer["o"].T
            h = self._rmsnorm(x, layer["ffn_norm"])
            gated = torch.nn.functional.silu(h @ layer["gate"].T) * (h @ layer["up"].T)
            x = x + gated @ layer["down"].T
        cache["len"] = end
        last = self._rmsnorm(x[-1:], self.output_norm)
        return (last @ self.output.T).float()[0]


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def generate(model, prompt_ids, max_tokens):
    """Greedy decoding of exactly `max_tokens` tokens; returns (ids, prefill s, decode s)."""
    device = model.device
    cache = model.new_cache(len(prompt_ids) + max_tokens)
    prompt = torch.tensor(prompt_ids, dtype=torch.long, device=device)
    synchronize(device)
    started = time.perf_counter()
    logits = model.forward(prompt, cache)
    token = logits.argmax()
    synchronize(device)
    prefill = time.perf_counter() - started
    generated = [token]
    started = time.perf_counter()
    for _ in range(max_tokens - 1):
        logits = model.forward(generated[-1].view(1), cache)
        generated.append(logits.argmax())
    synchronize(device)
    decode = time.perf_counter() - started
    return [int(t) for t in generated], prefill, decode


def parse_ids(text):
    ids = [int(t) for t in text.replace(",", " ").split()]
    if not ids:
        raise argparse.ArgumentTypeError("no token ids")
    return ids


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the GGUF file")
    parser.add_argument("--prompt-ids", required=True, type=parse_ids,
                        help="prompt token ids, space or comma separated")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--dtype", choices=["f16", "f32"], default="f16")
    parser.add_argument("--runs", type=int, default=3, help="timed runs after the warm-up")
    args = parser.parse_args(argv)
    if args.max_tokens < 1 or args.runs < 1:
        parser.error("--max-tokens and --runs must be at least 1")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("torch_peer: torch sees no CUDA device")
    dtype = torch.float16 if args.dtype == "f16" else torch.float32

    started = time.perf_counter()
    model = Llama(args.model, device, dtype)
    synchronize(device)
    load_s = time.perf_counter() - started

    generate(model, args.prompt_ids, min(args.max_tokens, 8))  # warm-up
    runs = [generate(model, args.prompt_ids, args.max_tokens) for _ in range(args.runs)]
    ids = runs[0][0]
    prefill = statistics.median(r[1] for r in runs)
    decode = statistics.median(r[2] for r in runs)
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "dtype": args.dtype,
        "load_s": round(load_s, 3),
        "prompt_tokens": len(args.prompt_ids),
        "output_tokens": len(ids),
        "runs": args.runs,
        "prefill_s": prefill,
        "decode_s": decode,
        "prefill_tok_s": len(args.prompt_ids) / prefill,
        "decode_tok_s": (len(ids) - 1) / decode if decode > 0 else None,
        "same_ids_every_run": all(r[0] == ids for r in runs),
        "output_ids": ids,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
