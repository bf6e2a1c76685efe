#!/usr/bin/python3
"""S3D training recipe: a small LLaMA-architecture byte model trained jointly for next-token prediction
and for self-speculative drafting (the top-level README, §3).

The draft objective is the inference computation: for sampled positions t, the kept layers (all but
[skip_begin, skip_end)) run over the block [x_t, m, ..., m] (K tokens, m the mask token) at positions
t..t+K-1, attending to the full model's K/V of positions < t and causally inside the block, and the block
predicts x_{t+1}..x_{t+K}.

Commands (see examples/train/README.md):
  /usr/bin/python3 examples/train/s3d_train.py train    --out build/train   (resumes from its checkpoint)
  /usr/bin/python3 examples/train/s3d_train.py evaluate --out build/train   (held-out loss and draft accuracy)
  /usr/bin/python3 examples/train/s3d_train.py export   --out build/train
The export writes raw float tensors (raw.txt + raw.bin); skippy_import_raw turns them into GGUF, so the
project keeps one GGUF writer.
"""

import argparse
import glob
import math
import os
import random
import struct
import sys
import time

import torch
import torch.nn.functional as F

# Byte vocabulary as in skippy::gguf::Vocabulary::bytes: <unk>=0, <s>=1, </s>=2, byte b = 3 + b, mask = 259.
BOS, EOS, BYTE0, MASK = 1, 2, 3, 259
VOCAB = 260

CORPUS_GLOB = "/usr/share/doc/python3.11/html/_sources/**/*.rst.txt"

# Prompts of the fidelity fixture (written for this project).
FIXTURE_PROMPTS = [
    "The list type is a mutable sequence.",
    "def add(a, b):\n    return a + b\n",
    "To install a package, run the following command:",
    "Ünïcödé text: naïve café – ok.",
]


def encode(text):
    return [BYTE0 + b for b in text.encode("utf-8")]


# ---- data -------------------------------------------------------------------------------------------

def load_corpus(held_out_every):
    files = sorted(glob.glob(CORPUS_GLOB, recursive=True))
    if not files:
        sys.exit("no corpus: install the Debian package python3.11-doc (%s matched nothing)" % CORPUS_GLOB)
    train, held = [], []
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            doc = [BOS] + [BYTE0 + b for b in f.read()] + [EOS]
        (held if i % held_out_every == 0 else train).append(doc)
    flat = lambda docs: torch.tensor([t for d in docs for t in d], dtype=torch.long)
    return flat(train), flat(held), len(files)


def batch(data, batch_size, seq_len, gen):
    starts = torch.randint(0, data.numel() - seq_len - 1, (batch_size,), generator=gen)
    idx = starts[:, None] + torch.arange(seq_len + 1)[None, :]
    w = data[idx]
    return w[:, :-1], w[:, 1:]


# ---- model ------------------------------------------------------------------------------------------

class Config:
    def __init__(self, a):
        self.n_layers, self.dim, self.n_heads, self.n_kv_heads = a.layers, a.dim, a.heads, a.kv_heads
        self.ffn_dim, self.vocab, self.rope_theta, self.rms_eps = a.ffn, VOCAB, 10000.0, 1e-5
        self.head_dim = self.dim // self.n_heads


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(positions, head_dim, theta):
    # Adjacent pairs (x[2i], x[2i+1]) rotate by pos * theta^(-2i/head_dim), as llama.cpp's `llama` does.
    inv = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float32, device=positions.device) / head_dim)
    ang = positions.to(torch.float32)[..., None] * inv
    return torch.cos(ang), torch.sin(ang)


def rope(x, cos, sin):
    # x: [..., T, heads, head_dim]; cos/sin: [..., T, head_dim/2]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[..., None, :], sin[..., None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        d, kv = c.dim, c.n_kv_heads * c.head_dim
        lin = lambda i, o: torch.nn.Linear(i, o, bias=False)
        self.attn_norm = torch.nn.Parameter(torch.ones(d))
        self.wq, self.wk, self.wv, self.wo = lin(d, d), lin(d, kv), lin(d, kv), lin(d, d)
        self.ffn_norm = torch.nn.Parameter(torch.ones(d))
        self.w_gate, self.w_up, self.w_down = lin(d, c.ffn_dim), lin(d, c.ffn_dim), lin(c.ffn_dim, d)

    def qkv(self, c, h, cos, sin):
        B, T, _ = h.shape
        x = rmsnorm(h, self.attn_norm, c.rms_eps)
        q = rope(self.wq(x).view(B, T, c.n_heads, c.head_dim), cos, sin)
        k = rope(self.wk(x).view(B, T, c.n_kv_heads, c.head_dim), cos, sin)
        v = self.wv(x).view(B, T, c.n_kv_heads, c.head_dim)
        return q, k, v

    def ffn(self, c, h):
        x = rmsnorm(h, self.ffn_norm, c.rms_eps)
        return self.w_down(F.silu(self.w_gate(x)) * self.w_up(x))


class Model(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.token_embd = torch.nn.Embedding(c.vocab, c.dim)
        torch.nn.init.normal_(self.token_embd.weight, std=0.5)
        self.layers = torch.nn.ModuleList(Layer(c) for _ in range(c.n_layers))
        self.output_norm = torch.nn.Parameter(torch.ones(c.dim))
        self.output = torch.nn.Linear(c.dim, c.vocab, bias=False)
        # Residual projections start small so the residual stream stays near unit scale (GPT-2 style).
        for L in self.layers:
            for w in (L.wo.weight, L.w_down.weight):
                w.data.mul_(1.0 / math.sqrt(2 * c.n_layers))

    def expand(self, x):  # GQA: KV head g serves query heads g*r .. g*r+r-1, i.e. query head h uses h / r
        return x.repeat_interleave(self.c.n_heads // self.c.n_kv_heads, dim=2)

    def forward(self, tokens, keep_kv=False):
        """Full model over [B, T] tokens at positions 0..T-1; returns logits and per-layer (K, V)."""
        c = self.c
        B, T = tokens.shape
        dev = tokens.device
        cos, sin = rope_tables(torch.arange(T, device=dev), c.head_dim, c.rope_theta)
        causal = torch.ones(T, T, dtype=torch.bool, device=dev).tril()
        h = self.token_embd(tokens)
        kvs = []
        for L in self.layers:
            q, k, v = L.qkv(c, h, cos, sin)
            if keep_kv:
                kvs.append((k, v))
            qh, kh, vh = q.transpose(1, 2), self.expand(k).transpose(1, 2), self.expand(v).transpose(1, 2)
            s = (qh @ kh.transpose(-1, -2)) / math.sqrt(c.head_dim)
            a = torch.softmax(s.masked_fill(~causal, float("-inf")), dim=-1) @ vh
            h = h + L.wo(a.transpose(1, 2).reshape(B, T, c.dim))
            h = h + L.ffn(c, h)
        return self.output(rmsnorm(h, self.output_norm, c.rms_eps)), kvs

    def draft(self, tokens, kvs, starts, K, skip):
        """Draft blocks [x_t, m..m] for every start t in starts [B, P]: logits [B, P, K, vocab]."""
        c = self.c
        B, T = tokens.shape
        P = starts.shape[1]
        dev = tokens.device
        block = torch.full((B, P, K), MASK, dtype=torch.long, device=dev)
        block[:, :, 0] = torch.gather(tokens, 1, starts)
        pos = starts[:, :, None] + torch.arange(K, device=dev)  # [B, P, K]
        cos, sin = rope_tables(pos.reshape(B, P * K), c.head_dim, c.rope_theta)
        prefix_ok = torch.arange(T, device=dev)[None, None, :] < starts[:, :, None]  # [B, P, T]: key j < t
        prefix_ok = prefix_ok[:, None, :, None, :]  # [B, 1, P, 1, T]
        causal = torch.ones(K, K, dtype=torch.bool, device=dev).tril()
        h = self.token_embd(block).reshape(B, P * K, c.dim)
        scale = 1.0 / math.sqrt(c.head_dim)
        for l, L in enumerate(self.layers):
            if skip[0] <= l < skip[1]:
                continue
            q, k, v = L.qkv(c, h, cos, sin)  # [B, P*K, heads, hd]
            H, hd = c.n_heads, c.head_dim
            qh = q.view(B, P, K, H, hd).permute(0, 3, 1, 2, 4)  # [B, H, P, K, hd]
            kb = self.expand(k).view(B, P, K, H, hd).permute(0, 3, 1, 2, 4)
            vb = self.expand(v).view(B, P, K, H, hd).permute(0, 3, 1, 2, 4)
            kp, vp = (self.expand(x.detach()).transpose(1, 2) for x in kvs[l])  # [B, H, T, hd]
            sp = torch.einsum("bhpkd,bhtd->bhpkt", qh, kp) * scale
            sp = sp.masked_fill(~prefix_ok, float("-inf"))
            sb = torch.einsum("bhpkd,bhpjd->bhpkj", qh, kb) * scale
            sb = sb.masked_fill(~causal, float("-inf"))
            w = torch.softmax(torch.cat((sp, sb), dim=-1), dim=-1)
            a = torch.einsum("bhpkt,bhtd->bhpkd", w[..., :T], vp) + torch.einsum("bhpkj,bhpjd->bhpkd", w[..., T:], vb)
            h = h + L.wo(a.permute(0, 2, 3, 1, 4).reshape(B, P * K, c.dim))
            h = h + L.ffn(c, h)
        return self.output(rmsnorm(h, self.output_norm, c.rms_eps)).view(B, P, K, c.vocab)


def losses(model, x, y, a, gen):
    """Full-model next-token loss, the draft objective per draft position, and per-position statistics:
    the draft's cross-entropy and top-1 accuracy against the text, and its top-1 agreement with the full
    model's own prediction at the same position (what greedy verification accepts, given the true prefix)."""
    B, T = x.shape
    K = a.predictors
    logits, kvs = model(x, keep_kv=True)
    full = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
    # Starts t in [0, T-K]: the block predicts y[t..t+K-1] = x_{t+1..t+K}.
    starts = torch.stack([torch.randperm(T - K + 1, generator=gen)[: a.draft_positions] for _ in range(B)])
    starts = starts.to(x.device)
    d = model.draft(x, kvs, starts, K, (a.skip_begin, a.skip_end))
    P = starts.shape[1]
    idx = (starts[:, :, None] + torch.arange(K, device=x.device)).reshape(B, -1)
    tgt = torch.gather(y, 1, idx).view(B, P, K)
    ce = F.cross_entropy(d.reshape(-1, VOCAB), tgt.reshape(-1), reduction="none").view(B, P, K)
    # The full model's logits at t+j predict the same byte as draft position j: its distribution there,
    # detached, is the distillation target (greedy S3D accepts a draft when it equals the full model's argmax).
    teacher = torch.gather(logits.detach(), 1, idx[:, :, None].expand(-1, -1, VOCAB)).view(B, P, K, VOCAB)
    objective = ce
    if a.distill > 0:
        log_d = F.log_softmax(d, dim=-1)
        log_t = F.log_softmax(teacher, dim=-1)
        kl = (log_t.exp() * (log_t - log_d)).sum(-1)
        objective = (1 - a.distill) * ce + a.distill * kl
    stats = {"ce": ce.detach().mean((0, 1)), "accuracy": (d.argmax(-1) == tgt).float().mean((0, 1)),
             "agree": (d.argmax(-1) == teacher.argmax(-1)).float().mean((0, 1))}
    return full, objective.mean((0, 1)), stats


# ---- warm start from a shipped GGUF ----------------------------------------------------------------

def read_gguf_tensors(path):
    """F32/F16 tensors of a GGUF v3 file as {name: float32 tensor [rows, cols] or [n]} (a reader only: the
    project's one GGUF writer is C++). Enough of the format for the files skippy_import_raw writes."""
    import numpy as np
    with open(path, "rb") as f:
        buf = f.read()
    if buf[:4] != b"GGUF" or struct.unpack_from("<I", buf, 4)[0] != 3:
        sys.exit("%s: not a GGUF v3 file" % path)
    n_tensors, n_kv = struct.unpack_from("<QQ", buf, 8)
    off = 24
    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def string(o):
        n = struct.unpack_from("<Q", buf, o)[0]
        return buf[o + 8:o + 8 + n].decode("utf-8"), o + 8 + n

    def value(t, o):
        if t in scalar:
            return struct.unpack_from("<" + scalar[t], buf, o)[0], o + struct.calcsize(scalar[t])
        if t == 8:
            return string(o)
        if t == 9:
            et, n = struct.unpack_from("<IQ", buf, o)
            o += 12
            out = []
            for _ in range(n):
                v, o = value(et, o)
                out.append(v)
            return out, o
        sys.exit("%s: unknown metadata type %d" % (path, t))

    meta = {}
    for _ in range(n_kv):
        key, off = string(off)
        t = struct.unpack_from("<I", buf, off)[0]
        meta[key], off = value(t, off + 4)
    infos = []
    for _ in range(n_tensors):
        name, off = string(off)
        nd = struct.unpack_from("<I", buf, off)[0]
        dims = struct.unpack_from("<%dQ" % nd, buf, off + 4)
        typ, toff = struct.unpack_from("<IQ", buf, off + 4 + 8 * nd)
        off += 4 + 8 * nd + 12
        infos.append((name, dims, typ, toff))
    align = meta.get("general.alignment", 32)
    base = (off + align - 1) // align * align
    out = {}
    for name, dims, typ, toff in infos:
        if typ not in (0, 1):
            sys.exit("%s: tensor %s has type %d; warm starts read F32 and F16 only" % (path, name, typ))
        n = int(np.prod(dims))
        a = np.frombuffer(buf, dtype=np.float32 if typ == 0 else np.float16, count=n, offset=base + toff)
        shape = tuple(reversed(dims)) if len(dims) == 2 else (n,)  # GGUF lists the innermost dimension first
        out[name] = torch.from_numpy(a.astype(np.float32).reshape(shape))
    return meta, out


def load_gguf_weights(model, path):
    try:
        meta, t = read_gguf_tensors(path)
    except (struct.error, ValueError, UnicodeDecodeError) as e:  # truncated or corrupt: name the file
        sys.exit("%s: malformed GGUF file (%s)" % (path, e))
    c = model.c
    # Head counts do not show in the tensor shapes: compare them with the rest of the architecture.
    want = {"llama.block_count": c.n_layers, "llama.embedding_length": c.dim, "llama.attention.head_count":
            c.n_heads, "llama.attention.head_count_kv": c.n_kv_heads, "llama.feed_forward_length": c.ffn_dim}
    for key, value in want.items():
        if meta.get(key) != value:
            sys.exit("%s: %s is %s, the recipe's model has %d (set --layers/--dim/--heads/--kv-heads/--ffn)"
                     % (path, key, meta.get(key), value))
    with torch.no_grad():
        for name, param in export_names(model):
            if name not in t or tuple(t[name].shape) != tuple(param.shape):
                sys.exit("%s: tensor %s missing or not of shape %s" % (path, name, tuple(param.shape)))
            param.copy_(t[name])


# ---- training ---------------------------------------------------------------------------------------

def lr_at(step, a):
    if step < a.warmup:
        return a.lr * (step + 1) / a.warmup
    p = (step - a.warmup) / max(1, a.steps - a.warmup)
    return a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def checkpoint_path(a):
    return os.path.join(a.out, "checkpoint.pt")


@torch.no_grad()
def evaluate(model, held, a, gen, batches):
    """Held-out full-model loss and the draft's per-position statistics (means over `batches`)."""
    model.eval()
    tot_full, tot = 0.0, {}
    for _ in range(batches):
        x, y = (t.to(a.device) for t in batch(held, a.batch, a.seq, gen))
        f, _, stats = losses(model, x, y, a, gen)
        tot_full += f.item()
        for k, v in stats.items():
            tot[k] = tot.get(k, 0) + v.cpu() / batches
    model.train()
    return tot_full / batches, tot


def describe(f, stats):
    fmt = lambda v: " ".join("%.3f" % x for x in v.tolist())
    return ("full %.3f nats/byte (perplexity %.2f); draft by position: loss vs text %s, top-1 accuracy vs text %s,"
            " agreement with the full model %s" % (f, math.exp(f), fmt(stats["ce"]), fmt(stats["accuracy"]),
                                                   fmt(stats["agree"])))


def train(a):
    os.makedirs(a.out, exist_ok=True)
    torch.manual_seed(a.seed)
    data, held, n_files = load_corpus(a.held_out_every)
    with open(os.path.join(a.out, "heldout.txt"), "wb") as f:  # for the C++ evaluation (never committed)
        f.write(bytes(t - BYTE0 for t in held.tolist() if BYTE0 <= t < BYTE0 + 256))
    model = Model(Config(a)).to(a.device)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
    gen = torch.Generator().manual_seed(a.seed)
    step, elapsed = 0, 0.0
    if os.path.exists(checkpoint_path(a)):
        ck = torch.load(checkpoint_path(a), map_location="cpu")  # optimizer state follows its params
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        gen.set_state(ck["gen"])
        torch.set_rng_state(ck["torch_rng"])
        step, elapsed = ck["step"], ck["elapsed"]
        print("resumed at step %d (%.0f s trained)" % (step, elapsed), flush=True)
    elif a.init:
        load_gguf_weights(model, a.init)
        print("warm start from %s (fresh optimizer and schedule)" % a.init, flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print("corpus: %d files, %d train / %d held-out bytes; model %.2fM parameters; %d steps of %d tokens"
          % (n_files, data.numel(), held.numel(), n_params / 1e6, a.steps, a.batch * a.seq), flush=True)
    log = open(os.path.join(a.out, "train_log.csv"), "a")
    t0, last_save = time.time(), time.time()
    while step < a.steps:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a)
        x, y = (t.to(a.device) for t in batch(data, a.batch, a.seq, gen))
        full, per_pos, stats = losses(model, x, y, a, gen)
        loss = full + a.draft_weight * per_pos.mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        now = time.time()
        if step % a.log_every == 0 or step == a.steps:
            total = elapsed + now - t0
            eta = (a.steps - step) * total / step if step else 0
            print("step %5d/%d  full %.3f  draft %s  agree %s  lr %.2e  %.2f s/step  %.0f s, eta %.0f s"
                  % (step, a.steps, full.item(), " ".join("%.2f" % v for v in stats["ce"].tolist()),
                     " ".join("%.2f" % v for v in stats["agree"].tolist()), lr_at(step, a),
                     total / step, total, eta), flush=True)
            log.write("%d,%.4f,%s,%s\n" % (step, full.item(), ",".join("%.4f" % v for v in stats["ce"].tolist()),
                                           ",".join("%.4f" % v for v in stats["agree"].tolist())))
            log.flush()
        if now - last_save > a.save_every or step == a.steps:
            save(model, opt, gen, step, elapsed + now - t0, a)
            last_save = now
    f, stats = evaluate(model, held, a, torch.Generator().manual_seed(a.seed + 1), 32)
    print("held-out: " + describe(f, stats), flush=True)


def load_trained(a):
    ck = torch.load(checkpoint_path(a), map_location="cpu")
    ta = argparse.Namespace(**ck["args"])
    model = Model(Config(ta))
    model.load_state_dict(ck["model"])
    return model, ta, ck


def evaluate_checkpoint(a):
    model, ta, ck = load_trained(a)
    ta.device = "cpu"
    _, held, _ = load_corpus(ta.held_out_every)
    for k, v in (("distill", 0.0), ("init", None)):  # checkpoints written before these options existed
        ta.__dict__.setdefault(k, v)
    f, stats = evaluate(model, held, ta, torch.Generator().manual_seed(ta.seed + 1), 32)
    print("step %d, held-out (%d x %d bytes): %s" % (ck["step"], 32 * ta.batch, ta.seq, describe(f, stats)))


def save(model, opt, gen, step, elapsed, a):
    tmp = checkpoint_path(a) + ".tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "gen": gen.get_state(),
                "torch_rng": torch.get_rng_state(), "step": step, "elapsed": elapsed, "args": vars(a)}, tmp)
    os.replace(tmp, checkpoint_path(a))


# ---- export -----------------------------------------------------------------------------------------

def write_raw(path, meta, tensors):
    """raw.txt lists metadata and tensors (name rows cols); raw.bin holds them as float32 little-endian."""
    with open(path + ".txt", "w") as m, open(path + ".bin", "wb") as b:
        m.write("skippy-raw 1\n")
        for k, v in meta:
            m.write("meta %s %s\n" % (k, v))
        for name, t in tensors:
            t = t.detach().to(torch.float32).contiguous()
            rows, cols = (t.shape[0], t.shape[1]) if t.dim() == 2 else (1, t.shape[0])
            m.write("tensor %s %d %d\n" % (name, rows, cols))
            b.write(struct.pack("<%df" % t.numel(), *t.flatten().tolist()))


def export_names(model):
    """(llama.cpp name, parameter) in the order of the raw export."""
    tensors = [("token_embd.weight", model.token_embd.weight)]
    for l, L in enumerate(model.layers):
        p = "blk.%d." % l
        tensors += [(p + "attn_norm.weight", L.attn_norm), (p + "attn_q.weight", L.wq.weight),
                    (p + "attn_k.weight", L.wk.weight), (p + "attn_v.weight", L.wv.weight),
                    (p + "attn_output.weight", L.wo.weight), (p + "ffn_norm.weight", L.ffn_norm),
                    (p + "ffn_gate.weight", L.w_gate.weight), (p + "ffn_up.weight", L.w_up.weight),
                    (p + "ffn_down.weight", L.w_down.weight)]
    return tensors + [("output_norm.weight", model.output_norm), ("output.weight", model.output.weight)]


def export(a):
    model, ta, ck = load_trained(a)
    c = model.c
    # The shipped model is F16: round every weight once, so the fixture is the logits of exactly those weights.
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(torch.float16).to(torch.float32))
    meta = [("n_layers", c.n_layers), ("dim", c.dim), ("n_heads", c.n_heads), ("n_kv_heads", c.n_kv_heads),
            ("ffn_dim", c.ffn_dim), ("vocab", c.vocab), ("rope_theta", c.rope_theta), ("rms_eps", c.rms_eps),
            ("mask_token_id", MASK), ("skip_begin", ta.skip_begin), ("skip_end", ta.skip_end),
            ("predictors", ta.predictors), ("train_steps", ck["step"]), ("train_seconds", int(ck["elapsed"]))]
    tensors = export_names(model)
    write_raw(os.path.join(a.out, "raw"), meta, tensors)
    # Fidelity fixture: full-model logits at every position of each prompt (BOS first).
    fmeta, ftensors = [("prompts", len(FIXTURE_PROMPTS))], []
    with torch.no_grad():
        for i, text in enumerate(FIXTURE_PROMPTS):
            ids = [BOS] + encode(text)
            logits, _ = model(torch.tensor([ids]))
            fmeta.append(("prompt.%d" % i, ",".join(map(str, ids))))
            ftensors.append(("logits.%d" % i, logits[0]))
    write_raw(os.path.join(a.out, "fixture"), fmeta, ftensors)
    print("wrote %s/raw.{txt,bin} (%d tensors, step %d) and %s/fixture.{txt,bin}"
          % (a.out, len(tensors), ck["step"], a.out))


def check_args(p, a):
    """Ranges the recipe needs, named before any work (a zero would divide, a bad skip range index past the
    layers, a K beyond the sequence draw no block)."""
    def need(ok, what):
        if not ok:
            p.error(what)
    for name in ("layers", "dim", "heads", "kv_heads", "ffn", "predictors", "draft_positions", "steps", "batch",
                 "threads", "log_every"):
        need(getattr(a, name) >= 1, "--%s must be >= 1, got %d" % (name.replace("_", "-"), getattr(a, name)))
    need(a.heads % a.kv_heads == 0, "--heads %d must be a multiple of --kv-heads %d" % (a.heads, a.kv_heads))
    need(a.dim % a.heads == 0 and (a.dim // a.heads) % 2 == 0,
         "--dim %d must be --heads %d times an even head dimension (RoPE rotates pairs)" % (a.dim, a.heads))
    need(0 <= a.skip_begin <= a.skip_end <= a.layers,
         "the skip range [--skip-begin %d, --skip-end %d) must lie within the %d layers"
         % (a.skip_begin, a.skip_end, a.layers))
    need(a.seq >= 2 and a.predictors <= a.seq, "--seq %d must be >= 2 and >= --predictors %d" % (a.seq, a.predictors))
    need(a.held_out_every >= 2, "--held-out-every must be >= 2 (1 would hold out every file), got %d"
         % a.held_out_every)
    need(a.warmup >= 0, "--warmup must be >= 0, got %d" % a.warmup)
    for name in ("lr", "save_every"):
        need(getattr(a, name) > 0, "--%s must be > 0, got %g" % (name.replace("_", "-"), getattr(a, name)))
    for name in ("draft_weight", "distill"):
        need(getattr(a, name) >= 0, "--%s must be >= 0, got %g" % (name.replace("_", "-"), getattr(a, name)))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["train", "evaluate", "export"])
    p.add_argument("--out", default="build/train", help="checkpoint and export directory")
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--ffn", type=int, default=512)
    p.add_argument("--skip-begin", type=int, default=2)
    p.add_argument("--skip-end", type=int, default=6)
    p.add_argument("--predictors", type=int, default=4, help="K: draft block length")
    p.add_argument("--draft-positions", type=int, default=32, help="draft blocks per sequence and step")
    p.add_argument("--draft-weight", type=float, default=1.0)
    p.add_argument("--distill", type=float, default=0.0,
                   help="share of the draft objective that is KL(full model || draft) instead of text cross-entropy")
    p.add_argument("--init", default=None, help="warm start: a GGUF (F32/F16) of this architecture, read once when"
                   " no checkpoint exists")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--held-out-every", type=int, default=40, help="every N-th corpus file is held out")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (cuda when available)")
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--save-every", type=float, default=120.0, help="seconds between checkpoints")
    a = p.parse_args()
    check_args(p, a)
    torch.set_num_threads(a.threads)
    a.device = ("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device
    if a.command == "train":
        train(a)
    elif a.command == "evaluate":
        evaluate_checkpoint(a)
    else:
        export(a)


if __name__ == "__main__":
    main()
