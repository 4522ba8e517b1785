"""A Trainyard command-driver trainer in PyTorch: next-bar direction from candle features.

Run by the trainer-agent as, for example, `python examples/pytorch/train.py`, with
  TRAINYARD_JOB_SPEC    path of the job spec (JSON: symbol, date, lookbackCandles, costs, model, ...)
  TRAINYARD_OUTPUT_DIR  folder for checkpoints and artifacts (everything in it is uploaded)
  TRAINYARD_DEVICE      "cuda:0" on a GPU lease (only the leased GPU is visible), else "cpu"
  TRAINYARD_RESUME_FROM optional local path of a checkpoint to continue from (fetched and checked by the agent)
  TRAINYARD_CANDLES     the job's candles as Parquet (open_time in ms, open, high, low, close, volume)
  TRAINYARD_FEATURES    optional: the job's features from the feature store, as Parquet
It trains on the features when given, else on features of the candles' returns; without
TRAINYARD_CANDLES (run by hand) it makes synthetic candles itself. Reading Parquet needs pyarrow.
It prints progress and its result as JSON lines on stdout and exits 0 on success.

With --serve it is a worker (`worker:pytorch=python3 examples/pytorch/train.py --serve` in
AGENT_TRAINERS): it imports PyTorch once and trains the jobs the agent writes on stdin, one JSON line
each ({"type": "job", "args": [...], "env": {...}} with the variables above), one after another.
"""
import argparse
import json
import math
import os
import sys
import time
import zlib

import numpy as np
import torch
from torch import nn


def emit(**line):
    print(json.dumps(line), flush=True)


def synthetic_candles(symbol: str, count: int, seed: int) -> np.ndarray:
    """Regime-switching log returns (bull, bear, sideways) with a little autocorrelation."""
    # crc32, not hash(): Python salts string hashes per process, and runs must be reproducible.
    rng = np.random.default_rng(zlib.crc32(f"{symbol}|{seed}".encode()))
    drift = {0: 4e-4, 1: -4e-4, 2: 0.0}
    vol = {0: 0.008, 1: 0.011, 2: 0.005}
    regime, prev, out = 2, 0.0, np.empty(count)
    for i in range(count):
        if rng.random() < 0.02:
            regime = int(rng.integers(0, 3))
        prev = drift[regime] + 0.08 * prev + vol[regime] * rng.standard_normal()
        out[i] = prev
    return out


def features(returns: np.ndarray, windows=(1, 3, 6, 12, 24)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    start = max(windows) + 24
    rows, labels, nxt = [], [], []
    for t in range(start, len(returns) - 1):
        row = [returns[t - w + 1 : t + 1].sum() for w in windows]
        row.append(returns[t - 23 : t + 1].std())
        rows.append(row)
        labels.append(1.0 if returns[t + 1] > 0 else 0.0)
        nxt.append(returns[t + 1])
    return np.asarray(rows, dtype=np.float32), np.asarray(labels, dtype=np.float32), np.asarray(nxt)


def evaluate(prob: np.ndarray, nxt: np.ndarray, fee_bps: float, spread_bps: float, periods_per_year: float) -> dict:
    position = np.where(prob > 0.5, 1.0, -1.0)
    simple = np.expm1(nxt)
    turnover = np.abs(np.diff(np.concatenate([[0.0], position])))
    strat = position * simple - turnover * (fee_bps + spread_bps) / 1e4
    equity = np.cumprod(1 + strat)
    peak = np.maximum.accumulate(equity)
    std = strat.std()
    predicted = (2 * prob - 1) * np.abs(nxt).mean()
    err = predicted - nxt
    nonzero = np.abs(nxt) > 1e-9
    ss_tot = ((nxt - nxt.mean()) ** 2).sum()
    return {
        "directionalHitRate": float((np.sign(position) == np.sign(nxt))[nxt != 0].mean()),
        "sharpe": float(strat.mean() / std * math.sqrt(periods_per_year)) if std > 0 else 0.0,
        "maxDrawdown": float(((peak - equity) / peak).max()),
        "totalReturn": float(equity[-1] - 1),
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "mape": float((np.abs(err[nonzero]) / np.abs(nxt[nonzero])).mean()),
        "r2": float(1 - (err**2).sum() / ss_tot) if ss_tot > 0 else 0.0,
    }


TIMEFRAME_MS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000, "1d": 86_400_000}


def iso(ms: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{int(ms) % 1000:03d}Z"


def read_parquet(path: str):
    import pyarrow.parquet as pq  # only needed for the agent's files

    return pq.read_table(path)


def candle_data(path: str, timeframe_ms: int):
    """Features of the candles' log returns; `earned[i]` is the open time of the bar row i's label is about."""
    table = read_parquet(path)
    close = table.column("close").to_numpy().astype(np.float64)
    open_time = table.column("open_time").to_numpy().astype(np.int64)
    returns = np.diff(np.log(close))
    x, y, nxt = features(returns)
    # Row t decides at the close of bar t + 1 (returns[t] ends there) and earns bar t + 2.
    start = len(returns) - 1 - len(x)
    earned = open_time[start + 2 : start + 2 + len(x)]
    return x, y, nxt, earned, f"{len(close)} candles from {os.path.basename(path)}"


def feature_data(path: str, timeframe_ms: int):
    """The feature store's table: its feature columns, label and next bar's return, as the built-in trainer uses them."""
    table = read_parquet(path)
    names = json.loads(table.schema.metadata[b"trainyard.featureNames"])
    x = np.column_stack([table.column(n).to_numpy() for n in names]).astype(np.float32)
    y = table.column("label").to_numpy().astype(np.float32)
    nxt = table.column("next_return").to_numpy().astype(np.float64)
    earned = table.column("open_time").to_numpy().astype(np.int64) + timeframe_ms
    return x, y, nxt, earned, f"{len(x)} feature rows ({len(names)} features) from {os.path.basename(path)}"


def options(argv: list[str]) -> argparse.Namespace:
    """The job's `driver.args`."""
    parser = argparse.ArgumentParser(description="A Trainyard command-driver trainer in PyTorch")
    parser.add_argument("--serve", action="store_true", help="stay running and train the jobs written on stdin, one JSON line each")
    parser.add_argument("--patience", type=int, default=5, help="epochs without a better validation loss before stopping early")
    parser.add_argument("--epoch-pause", type=float, default=0.0, help="seconds to wait after each epoch, to watch (or kill) a run in a demo or a test")
    return parser.parse_args(argv)


def train(opts: argparse.Namespace) -> None:
    spec = json.load(open(os.environ["TRAINYARD_JOB_SPEC"]))
    out = os.environ["TRAINYARD_OUTPUT_DIR"]
    device = torch.device(os.environ.get("TRAINYARD_DEVICE", "cpu") if torch.cuda.is_available() else "cpu")
    torch.manual_seed(spec["model"]["seed"])
    os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)

    tf_ms = TIMEFRAME_MS[spec["timeframe"]]
    candles_path, features_path = os.environ.get("TRAINYARD_CANDLES", ""), os.environ.get("TRAINYARD_FEATURES", "")
    earned = None
    if features_path:
        x, y, nxt, earned, described = feature_data(features_path, tf_ms)
        featureset = spec["featureset"]
    elif candles_path:
        x, y, nxt, earned, described = candle_data(candles_path, tf_ms)
        featureset = "torch-returns-v1"
    else:
        returns = synthetic_candles(spec["symbol"], spec["lookbackCandles"], spec["model"]["seed"])
        x, y, nxt = features(returns)
        featureset, described = "torch-returns-v1", f"{len(returns) + 1} synthetic candles"
    # Not JSON: the agent puts this line in the attempt log.
    print(f"training on {described}", flush=True)
    n = len(x)
    train_end, val_end = int(n * 0.7), int(n * 0.85)
    mean, std = x[:train_end].mean(0), x[:train_end].std(0) + 1e-8
    x = (x - mean) / std
    to = lambda a: torch.tensor(a, device=device)
    xt, yt, xv, yv, xs = to(x[:train_end]), to(y[:train_end]), to(x[train_end:val_end]), to(y[train_end:val_end]), to(x[val_end:])

    model = nn.Sequential(nn.Linear(x.shape[1], 64), nn.ReLU(), nn.Linear(64, 1)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    epochs, patience, best, best_state, waited, start_epoch = spec["model"]["epochs"], opts.patience, float("inf"), None, 0, 0

    resume = os.environ.get("TRAINYARD_RESUME_FROM", "")
    if resume and os.path.exists(resume):
        state = torch.load(resume, map_location=device)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start_epoch = state["epoch"] + 1
        print(f"resumed after epoch {start_epoch} from {os.path.basename(resume)}", flush=True)

    # Halved by the scheduler for each earlier attempt that ran out of memory.
    batch = max(1, int(256 * float(os.environ.get("TRAINYARD_BATCH_SIZE_FACTOR", "1"))))
    started = time.time()
    for epoch in range(start_epoch, epochs):
        model.train()
        perm = torch.randperm(len(xt), device=device)
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]).squeeze(1), yt[idx])
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            val = loss_fn(model(xv).squeeze(1), yv).item()
        # Write then rename, so the agent never uploads a half-written checkpoint.
        path = os.path.join(out, "checkpoints", f"epoch-{epoch}.pt")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch}, path + ".partial")
        os.replace(path + ".partial", path)
        elapsed = time.time() - started
        done = epoch - start_epoch + 1
        emit(type="progress", percent=100.0 * (epoch + 1) / epochs, epoch=epoch + 1, epochs=epochs, loss=float(loss.item()),
             validationMetric=val, etaSeconds=elapsed / done * (epochs - epoch - 1))
        time.sleep(opts.epoch_pause)
        if val < best - 1e-6:
            best, best_state, waited = val, {k: v.detach().clone() for k, v in model.state_dict().items()}, 0
        else:
            waited += 1
            if waited >= patience:
                break

    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        prob = torch.sigmoid(model(xs).squeeze(1)).cpu().numpy()
    periods = {"1m": 525600, "5m": 105120, "15m": 35040, "1h": 8760, "4h": 2190, "1d": 365}[spec["timeframe"]]
    metrics = evaluate(prob, nxt[val_end:], spec["costs"]["feeBps"], spec["costs"]["spreadBps"], periods)
    torch.save(model.state_dict(), os.path.join(out, "model.pt"))
    json.dump({"mean": mean.tolist(), "std": std.tolist(), "device": str(device)}, open(os.path.join(out, "config.json"), "w"))
    json.dump(metrics, open(os.path.join(out, "metrics.json"), "w"), indent=2)
    result = {"metrics": metrics, "featureset": featureset}
    if earned is not None:
        tested = earned[val_end:]
        result["evaluationWindow"] = {"from": iso(tested[0]), "to": iso(tested[-1] + tf_ms), "candles": int(len(tested))}
    emit(type="result", **result)


# Set per job by the agent; a worker drops the last job's before taking the next one's.
JOB_VARIABLES = ("TRAINYARD_JOB_SPEC", "TRAINYARD_OUTPUT_DIR", "TRAINYARD_RESUME_FROM", "TRAINYARD_BATCH_SIZE_FACTOR",
                 "TRAINYARD_CANDLES", "TRAINYARD_FEATURES", "TRAINYARD_VARIANT")


def serve() -> None:
    """One job per line on stdin until it closes; a job that fails ends the worker, and the agent starts another."""
    for line in sys.stdin:
        job = json.loads(line)
        for name in JOB_VARIABLES:
            os.environ.pop(name, None)
        os.environ.update(job["env"])
        train(options(job["args"]))
        # An idle worker keeps its CUDA context on the GPU; its cached blocks go back for other jobs.
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def main() -> int:
    opts = options(sys.argv[1:])
    serve() if opts.serve else train(opts)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except torch.cuda.OutOfMemoryError as err:
        print(f"CUDA out of memory: {err}", file=sys.stderr)
        sys.exit(2)
