#!/usr/bin/env python3
"""PyTorch reference run of cohort's baby GPT: the same model, data stream and schedule, its validation loss.

Trains, in PyTorch eager fp32 on the CPU, the character-level GPT that cohort trains on
data/shakespeare/plays.txt (scripts/prepare-corpus.sh makes it) and prints the validation loss
at every evaluation, then one JSON line {"val_loss", "train_loss_last", "seconds", "ms_per_step"}.

    python3 bench/gpt_reference.py [--max-iters 2000] [--threads 2] [--json-out FILE]
    python3 bench/gpt_reference.py --print-windows 12      # the data stream only, no training

What is reproduced from cohort, function by function:
  * the corpus (src/data/TextCorpus.cpp, makeTextCorpus): char tokens = the file's distinct code
    points sorted, id = index; the first floor(double(total) * (1 - val_fraction)) tokens train,
    the rest validate;
  * the training windows (data::trainingWindowStart, with kernels/SeedMixing.h's mixBits,
    splitmix64, dataStreamSeed and kStreamOffset in exact 64-bit unsigned arithmetic): row r of
    step i (0-based) of replica 0 is window [start, start + context + 1) of the training tokens,
    input = window[:-1], targets = window[1:];
  * the validation windows (data::validationWindowStart): eval_iters * batch windows spread
    evenly over the validation tokens, evaluated in batches of `batch`; the loss is the mean
    cross-entropy over all their tokens;
  * the learning rate (src/optim/LearningRateSchedule.cpp, cosine kind): linear warm-up
    lr * (s + 1) / W for s < W, then cosine from lr down towards min_lr over the remaining
    max_iters - W steps (finalFraction = min_lr / lr).

The model is GPT-2's pre-LayerNorm stack: token + learned position embeddings (N(0, 0.02));
per block x += proj(attention(ln1(x))), x += fc2(gelu_tanh(fc1(ln2(x)))), with a fused qkv
Linear C->3C, causal softmax attention scaled by 1/sqrt(C/heads), Linears with biases, fc1 C->4C;
a final LayerNorm (eps 1e-5) and an LM head C->V with a bias, not tied to the embedding. Linear
weights start at N(0, 0.02), the attention output projection and fc2 at N(0, 0.02/sqrt(2L)),
biases at 0, LayerNorm gains 1 and shifts 0. Dropout 0. AdamW (betas 0.9/beta2, eps 1e-8) decays
the Linear weight matrices only; the global gradient norm is clipped to grad_clip when > 0.

Evaluations happen before the first step ("iter 0"), after every eval_interval steps and after
the last step; "iter N" is the number of steps taken. ms_per_step times the training steps alone
(window gathering included, evaluations excluded); seconds is the whole loop's wall time.

PyTorch is a benchmark baseline only, never a dependency: when `torch` does not import here,
the script runs itself again with the interpreter of --venv (default .torch-venv), which
scripts/torch-venv.sh creates. Not part of the test suite. bench/gpt_side_by_side.py imports the
model from here.
"""
import argparse
import json
import math
import os
import sys
import time

# ---------------------------------------------------------------------------------------------
# kernels/SeedMixing.h and src/data/TextCorpus.cpp, in exact 64-bit unsigned arithmetic.

MASK64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15  # kernels::kGoldenGamma
STREAM_OFFSET = 0x632BE59BD9B4E019  # kernels::kStreamOffset


def mix_bits(z):
    """kernels::mixBits, the splitmix64 finaliser."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def splitmix64(x):
    """kernels::splitmix64: mixBits(x + kGoldenGamma)."""
    return mix_bits((x + GOLDEN_GAMMA) & MASK64)


def data_stream_seed(seed, stream):
    """kernels::dataStreamSeed."""
    return splitmix64(splitmix64(seed & MASK64) ^ splitmix64((stream + STREAM_OFFSET) & MASK64))


def training_window_start(seed, replica, iteration, row, tokens, window):
    """data::trainingWindowStart: the first token of row `row` of step `iteration` of `replica`."""
    span = (tokens - window + 1) & MASK64  # static_cast<std::uint64_t>(tokens - window + 1)
    stream = data_stream_seed(seed, (replica + STREAM_OFFSET) & MASK64)
    counter = ((((iteration & MASK64) << 20) & MASK64) + (row & MASK64) + 1) & MASK64
    draw = splitmix64(stream ^ mix_bits(counter))
    return (draw * span) >> 64  # Lemire's multiply-shift, the 128-bit product's high half


def validation_window_start(i, count, tokens, window):
    """data::validationWindowStart (int64 arithmetic; every operand is >= 0, so // truncates as C++ does)."""
    if count <= 1:
        return 0
    return (tokens - window) * i // (count - 1)


def check_seed_mixing():
    """The values tests/kernels/SeedMixingTest.cpp pins: the port must give them."""
    ones = MASK64
    for value, mixed, splitmixed in [(0, 0, 0xE220A8397B1DCDAF), (1, 0x5692161D100B05E5, 0x910A2DEC89025CC1),
                                     (42, 0xA759EA27D4727622, 0xBDD732262FEB6E95),
                                     (ones, 0xB4D055FCF2CBBD7B, 0xE4D971771B652C20),
                                     (0x0123456789ABCDEF, 0xB2C058E4EBB5112C, 0x157A3807A48FAA9D)]:
        assert mix_bits(value) == mixed and splitmix64(value) == splitmixed, value
    for seed, stream, expected in [(0, 0, 0xF2253E3606A0BF0F), (42, 0, 0x45FDAA92F22A7A13),
                                   (42, 1, 0x89AD1BDBB209C529), (42, 7, 0x259395266A79A30C),
                                   (1234, 3, 0x3026A150A2515685), (ones, 5, 0x53D6361E7D5AA502)]:
        assert data_stream_seed(seed, stream) == expected, (seed, stream)
    # tests/data/TextCorpusTest.cpp: one possible window; evenly spread validation windows.
    assert training_window_start(1, 0, 0, 0, 65, 65) == 0
    assert validation_window_start(4, 5, 1000, 65) == 935 and validation_window_start(0, 1, 1000, 65) == 0


def load_corpus(path, val_fraction, window):
    """data::makeTextCorpus with the char tokenizer: (vocabulary, train ids, validation ids)."""
    if not 0.0 < val_fraction < 1.0:
        sys.exit(f"--val-fraction must be in (0, 1), got {val_fraction}")
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        sys.exit(f"text file {path} is empty")
    text = data.decode("utf-8")  # strict: refuses what cohort's decoder refuses (overlong, surrogates)
    vocabulary = sorted(set(text))  # Python strings are code points: sorted by code point
    index = {c: i for i, c in enumerate(vocabulary)}
    ids = [index[c] for c in text]
    train_tokens = math.floor(float(len(ids)) * (1.0 - val_fraction))  # std::floor(double(total) * (1 - f))
    train, validation = ids[:train_tokens], ids[train_tokens:]
    for name, part in (("training", train), ("validation", validation)):
        if len(part) < window:
            sys.exit(f"text file {path} is too short: its {name} part has {len(part)} tokens, fewer than one "
                     f"window of {window} (--context + 1)")
    return vocabulary, train, validation


def learning_rate(step, lr, min_lr, warmup, total):
    """optim::LearningRateSchedule::at for the cosine kind, step 0-based."""
    if warmup > 0 and step < warmup:
        return lr * float(step + 1) / float(warmup)
    span = float(max(1, total - warmup))
    progress = min(max(float(step - warmup) / span, 0.0), 1.0)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    final_fraction = min_lr / lr
    return lr * (final_fraction + (1.0 - final_fraction) * cosine)


# ---------------------------------------------------------------------------------------------
# PyTorch, imported only when needed.

def import_torch(venv):
    """torch, or this script run again by the interpreter of `venv` (once), as bench/cpu_side_by_side.py does."""
    try:
        import torch
        return torch
    except ImportError:
        candidates = [venv]
        if not os.path.isabs(venv):  # also the repository root's, when run from elsewhere
            candidates.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", venv))
        for folder in candidates:
            python = os.path.join(folder, "bin", "python")
            if os.path.exists(python) and not os.environ.get("COHORT_SIDE_BY_SIDE_IN_VENV"):
                os.environ["COHORT_SIDE_BY_SIDE_IN_VENV"] = "1"  # once: the venv's torch must import
                os.execv(python, [python] + sys.argv)
        sys.exit(f"torch does not import here and {os.path.join(venv, 'bin', 'python')} does not exist: "
                 f"run scripts/torch-venv.sh {venv}")


_GPT_CLASS = None


def gpt_class(torch):
    """The GPT nn.Module class (defined on first use, so that this file imports without torch)."""
    global _GPT_CLASS
    if _GPT_CLASS is not None:
        return _GPT_CLASS
    nn = torch.nn
    F = torch.nn.functional

    class Block(nn.Module):
        def __init__(self, embed, heads):
            super().__init__()
            self.heads = heads
            self.ln1 = nn.LayerNorm(embed, eps=1e-5)
            self.qkv = nn.Linear(embed, 3 * embed)
            self.proj = nn.Linear(embed, embed)
            self.ln2 = nn.LayerNorm(embed, eps=1e-5)
            self.fc1 = nn.Linear(embed, 4 * embed)
            self.fc2 = nn.Linear(4 * embed, embed)

        def attention(self, x):
            rows, positions, width = x.shape
            q, k, v = self.qkv(x).split(width, dim=2)
            # [rows, heads, positions, head width]; scaled by 1/sqrt(head width), SDPA's default.
            q, k, v = (t.view(rows, positions, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.proj(y.transpose(1, 2).reshape(rows, positions, width))

        def forward(self, x):
            x = x + self.attention(self.ln1(x))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))

    class GPT(nn.Module):
        def __init__(self, vocabulary, context, layers, heads, embed):
            super().__init__()
            if embed % heads:
                raise ValueError(f"--embed {embed} is not a multiple of --heads {heads}")
            self.context = context
            self.tokens = nn.Embedding(vocabulary, embed)
            self.positions = nn.Embedding(context, embed)
            self.blocks = nn.ModuleList(Block(embed, heads) for _ in range(layers))
            self.ln_final = nn.LayerNorm(embed, eps=1e-5)
            self.head = nn.Linear(embed, vocabulary)  # with a bias, untied
            residual_std = 0.02 / math.sqrt(2 * layers)
            with torch.no_grad():
                for module in self.modules():
                    if isinstance(module, nn.Linear):
                        module.weight.normal_(0.0, 0.02)
                        module.bias.zero_()
                    elif isinstance(module, nn.Embedding):
                        module.weight.normal_(0.0, 0.02)
                    elif isinstance(module, nn.LayerNorm):
                        module.weight.fill_(1.0)
                        module.bias.zero_()
                for block in self.blocks:  # the layers that write into the residual stream
                    block.proj.weight.normal_(0.0, residual_std)
                    block.fc2.weight.normal_(0.0, residual_std)

        def forward(self, ids):
            positions = ids.shape[1]
            if positions > self.context:
                raise ValueError(f"{positions} positions, more than the context of {self.context}")
            x = self.tokens(ids) + self.positions.weight[:positions]
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_final(x))  # logits [rows, positions, vocabulary]

        def loss(self, ids, targets, reduction="mean"):
            logits = self(ids)
            return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction=reduction)

    _GPT_CLASS = GPT
    return GPT


def make_gpt(torch, vocabulary, context, layers, heads, embed, seed):
    """The model, its weights drawn after torch.manual_seed(seed)."""
    torch.manual_seed(seed)
    return gpt_class(torch)(vocabulary, context, layers, heads, embed)


def make_optimizer(torch, model, lr, beta2, weight_decay):
    """AdamW that decays the Linear weight matrices only (not biases, LayerNorms or embeddings)."""
    decayed = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    chosen = {id(p) for p in decayed}
    others = [p for p in model.parameters() if id(p) not in chosen]
    assert len(decayed) + len(others) == len(list(model.parameters()))
    groups = [{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, beta2), eps=1e-8)


# ---------------------------------------------------------------------------------------------

def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default="data/shakespeare/plays.txt")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--embed", type=int, default=128)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--max-iters", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--min-lr", type=float, default=1e-4)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--beta2", type=float, default=0.99)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--grad-clip", type=float, default=1.0)
    parser.add_argument("--eval-iters", type=int, default=20)
    parser.add_argument("--eval-interval", type=int, default=250)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json-out", default=None, help="also write the final JSON (with every evaluation) here")
    parser.add_argument("--print-windows", type=int, default=0, metavar="N",
                        help="print the first N training window starts of iterations 0 and 1 (replica 0) and exit")
    parser.add_argument("--venv", default=".torch-venv")
    args = parser.parse_args(argv)
    if min(args.layers, args.heads, args.embed, args.context, args.batch, args.eval_iters, args.eval_interval) < 1 \
            or args.max_iters < 0 or args.warmup < 0:
        parser.error("sizes, --eval-iters and --eval-interval must be >= 1; --max-iters and --warmup >= 0")
    if not 0.0 < args.min_lr <= args.lr:
        parser.error("need 0 < --min-lr <= --lr")
    return args


def print_windows(args, train, validation):
    window = args.context + 1
    count = args.eval_iters * args.batch
    for iteration in (0, 1):
        starts = [training_window_start(args.seed, 0, iteration, row, len(train), window)
                  for row in range(args.print_windows)]
        print(f"iteration {iteration} training window starts: " + " ".join(map(str, starts)))
    starts = [validation_window_start(i, count, len(validation), window) for i in range(min(args.print_windows, count))]
    print(f"validation window starts (of {count}): " + " ".join(map(str, starts)))


def main():
    args = parse_arguments()
    check_seed_mixing()
    torch = import_torch(args.venv) if args.print_windows <= 0 else None  # before any output: it may re-run us
    window = args.context + 1
    vocabulary, train_ids, validation_ids = load_corpus(args.text, args.val_fraction, window)
    print(f"{args.text}: {len(train_ids) + len(validation_ids):,} tokens, vocabulary {len(vocabulary)}, "
          f"train {len(train_ids):,}, validation {len(validation_ids):,}; seed {args.seed}", flush=True)
    if args.print_windows > 0:
        print_windows(args, train_ids, validation_ids)
        return

    torch.set_num_threads(args.threads)
    train = torch.tensor(train_ids, dtype=torch.long)
    validation = torch.tensor(validation_ids, dtype=torch.long)
    offsets = torch.arange(window, dtype=torch.long)

    def windows(tokens, starts):
        rows = tokens[torch.tensor(starts, dtype=torch.long)[:, None] + offsets]  # [rows, window]
        return rows[:, :-1], rows[:, 1:]

    model = make_gpt(torch, len(vocabulary), args.context, args.layers, args.heads, args.embed, args.seed)
    optimizer = make_optimizer(torch, model, args.lr, args.beta2, args.weight_decay)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"torch {torch.__version__}, {args.threads} thread(s); GPT {args.layers} layers, {args.heads} heads, "
          f"embed {args.embed}, context {args.context}: {parameters:,} parameters; batch {args.batch}, "
          f"{args.max_iters} steps", flush=True)

    count = args.eval_iters * args.batch
    validation_starts = [validation_window_start(i, count, len(validation_ids), window) for i in range(count)]

    def evaluate():
        model.eval()
        total, tokens = 0.0, 0
        with torch.no_grad():
            for first in range(0, count, args.batch):
                x, y = windows(validation, validation_starts[first:first + args.batch])
                total += float(model.loss(x, y, reduction="sum").double())
                tokens += y.numel()
        model.train()
        return total / tokens

    evaluations = []

    def record(iteration):
        loss = evaluate()
        evaluations.append({"iter": iteration, "val_loss": loss})
        print(f"iter {iteration} val_loss {loss:.4f}", flush=True)

    train_loss_last = float("nan")
    step_seconds = 0.0
    began = time.perf_counter()
    record(0)
    for step in range(args.max_iters):
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, args.lr, args.min_lr, args.warmup, args.max_iters)
        x, y = windows(train, [training_window_start(args.seed, 0, step, row, len(train_ids), window)
                               for row in range(args.batch)])
        loss = model.loss(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        train_loss_last = loss.item()
        step_seconds += time.perf_counter() - started
        taken = step + 1
        if taken % args.eval_interval == 0 or taken == args.max_iters:
            record(taken)
    seconds = time.perf_counter() - began

    result = {"val_loss": evaluations[-1]["val_loss"], "train_loss_last": train_loss_last, "seconds": seconds,
              "ms_per_step": 1000.0 * step_seconds / args.max_iters if args.max_iters else float("nan")}
    print(json.dumps(result), flush=True)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(dict(result, evaluations=evaluations, torch=torch.__version__,
                           config={k: v for k, v in vars(args).items() if k not in ("json_out", "venv")}), f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
