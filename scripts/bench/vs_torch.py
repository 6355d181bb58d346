"""PyTorch half of `npm run bench -- vs-torch` (scripts/bench/vs-torch.ts drives it).

Started once per run as `python vs_torch.py --threads N`, it imports torch once, prints one
ready line, then answers requests, one JSON object per line on stdin, with one JSON line each on
stdout (Note [vs-torch protocol] in scripts/bench/torch-peer.ts):
  {"cmd": "setup", "workload": ..., ...}  builds the workload in every layout, warms it up
  {"cmd": "time"}                          one timed sample per layout: {"ms": {layout: ms}}
  {"cmd": "release"}                       frees the workload
  {"cmd": "exit"}
The workloads are the same as our half's (scripts/bench/vs-torch-ours.ts): cnn3 of
lib/nn/models.ts, float32, squared loss ξ = ‖z − y‖², no autocast.
"""
import argparse
import json
import math
import sys
import time
import traceback

CLASSES = 10
LAYOUTS = ("contiguous", "channels_last")


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def cnn3(torch, c, h, w):
    """cnn3 of lib/nn/models.ts: conv 5×5 32 → pool → conv 3×3 64 → pool → conv 3×3 64 → pool → linear."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(c, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(64 * (h // 8) * (w // 8), CLASSES),
    )


def memory_format(torch, layout):
    return torch.channels_last if layout == "channels_last" else torch.contiguous_format


def one_hot(torch, labels):
    return torch.nn.functional.one_hot(labels, CLASSES).to(torch.float32)


class Workload:
    """One model and its inputs in one layout; run() is one unit of the timed work."""

    def __init__(self, torch, req, layout):
        self.torch = torch
        c, h, w = req["shape"]
        self.shape = (c, h, w)
        self.fmt = memory_format(torch, layout)
        torch.manual_seed(0)
        self.model = cnn3(torch, c, h, w).to(memory_format=self.fmt)
        self.parameters = sum(p.numel() for p in self.model.parameters())

    def images(self, n, seed):
        g = self.torch.Generator().manual_seed(seed)
        x = self.torch.rand((n, *self.shape), generator=g) - 0.5
        return x.contiguous(memory_format=self.fmt)

    def targets(self, n):
        return one_hot(self.torch, self.torch.arange(n) % CLASSES)


class SgdStep(Workload):
    """trainSgd's step: forward (training mode), squared loss, backward, momentum update of θ."""

    def __init__(self, torch, req, layout):
        super().__init__(torch, req, layout)
        n = req["batch"]
        self.x, self.y = self.images(n, 3), self.targets(n)
        # d = ∇/|B| + θ/Cl; v = 0.9·v + d; θ −= η·v: lib/optim/sgd.ts's update (its v is −η times this one)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9, weight_decay=1 / (0.01 * 60000))
        self.model.train()

    def run(self):
        self.opt.zero_grad(set_to_none=False)
        z = self.model(self.x)
        loss = ((z - self.y) ** 2).sum()
        (loss / self.x.shape[0]).backward()
        self.opt.step()
        return loss.item()


class Inference(Workload):
    """A forward pass in inference mode."""

    def __init__(self, torch, req, layout):
        super().__init__(torch, req, layout)
        self.x = self.images(req["batch"], 3)
        self.model.eval()

    def run(self):
        with self.torch.inference_mode():
            return self.model(self.x).sum().item()


class Linearised(Workload):
    """The network as a function of θ on a fixed subsample, for functorch's jvp and vjp."""

    def __init__(self, torch, req, layout):
        super().__init__(torch, req, layout)
        self.params = {k: p.detach() for k, p in self.model.named_parameters()}
        self.names = list(self.params)
        self.sizes = [self.params[k].numel() for k in self.names]

    def split(self, flat):
        return {k: t.view_as(self.params[k]) for k, t in zip(self.names, flat.split(self.sizes))}

    def flat_params(self):
        return self.torch.cat([self.params[k].reshape(-1) for k in self.names])

    def linearise(self, x):
        """One forward pass on x kept for the products (as our Gv runs on the cache of one forward pass)."""
        func = self.torch.func

        def f(p):
            return func.functional_call(self.model, p, (x,))

        z, self.vjp_fn = func.vjp(f, self.params)
        self.f = f
        return z

    def gauss_newton(self, v, s, damping):
        """(G_S + λI)v = (1/Cl + λ)v + (1/|S|) Jᵀ B J v, B = 2I for ‖z − y‖² (lib/nn/products.ts)."""
        _, jv = self.torch.func.jvp(self.f, (self.params,), (self.split(v),))
        (g,) = self.vjp_fn(2 * jv)
        gv = self.torch.cat([g[k].reshape(-1) for k in self.names])
        return gv.div_(s).add_(v, alpha=damping)


class GaussNewton(Linearised):
    """One Gauss-Newton product on |S| images."""

    def __init__(self, torch, req, layout):
        super().__init__(torch, req, layout)
        self.s = req["samples"]
        self.linearise(self.images(self.s, 3))
        g = torch.Generator().manual_seed(4)
        self.v = torch.rand(self.parameters, generator=g) * 2 - 1
        self.damping = 1 / (0.01 * 60000) + 1

    def run(self):
        return self.gauss_newton(self.v, self.s, self.damping)[0].item()


class NewtonIteration(Linearised):
    """lib/train/newton-trainer.ts's iteration with a fixed amount of work (scripts/bench/vs-torch-ours.ts):
    f and ∇f over l images in mini-batches (S last, one batch, kept), `cg_steps` CG steps on
    (G_S + λI)d = −∇f, `line_search` forward passes over the l images at θ + αd; θ restored after."""

    def __init__(self, torch, req, layout):
        super().__init__(torch, req, layout)
        l, s = req["trainSize"], req["samples"]
        c, h, w = self.shape
        # the images our half wrote (scripts/bench/vs-torch-ours.ts), S = the last s of them
        data = torch.from_file(req["imagesFile"], shared=False, size=l * c * h * w, dtype=torch.float32)
        self.x = data.view(l, c, h, w)
        self.y = one_hot(torch, torch.arange(l) % CLASSES)
        self.l, self.s = l, s
        self.batch = req["batchSize"]
        self.cg_steps = req["cgSteps"]
        self.line_search = req["lineSearchPasses"]
        self.cl = 0.01 * l
        self.lam = 1.0

    def batches(self):
        rest = self.l - self.s
        for i in range(0, rest, self.batch):
            j = min(i + self.batch, rest)
            yield self.x[i:j].contiguous(memory_format=self.fmt), self.y[i:j]

    def subsample(self):
        return self.x[self.l - self.s:].contiguous(memory_format=self.fmt), self.y[self.l - self.s:]

    def objective_and_gradient(self):
        torch = self.torch
        for p in self.model.parameters():
            p.grad = None
        f = 0.0
        for xb, yb in self.batches():
            z = self.model(xb)
            loss = ((z - yb) ** 2).sum()
            (loss / self.l).backward()
            f += loss.item()
        grad = torch.cat([p.grad.reshape(-1) for p in self.model.parameters()])
        xs, ys = self.subsample()
        z = self.linearise(xs)
        f += ((z - ys) ** 2).sum().item()
        (gs,) = self.vjp_fn(2 * (z - ys) / self.l)
        theta = self.flat_params()
        grad += torch.cat([gs[k].reshape(-1) for k in self.names])
        grad += theta / self.cl
        return f / self.l + theta.dot(theta).item() / (2 * self.cl), grad, theta

    def objective(self):
        f = 0.0
        with self.torch.inference_mode():
            for xb, yb in [*self.batches(), self.subsample()]:
                f += ((self.model(xb) - yb) ** 2).sum().item()
        theta = self.flat_params()
        return f / self.l + theta.dot(theta).item() / (2 * self.cl)

    def set_params(self, flat):
        with self.torch.no_grad():
            for k, t in self.split(flat).items():
                self.params[k].copy_(t)

    def run(self):
        f0, grad, theta0 = self.objective_and_gradient()
        # CG on (G_S + λI)d = −∇f, as lib/optim/cg.ts (no early stop: a fixed number of products)
        damping = 1 / self.cl + self.lam
        b = -grad
        d = self.torch.zeros_like(b)
        r = b.clone()
        p = b.clone()
        rr = r.dot(r).item()
        for step in range(self.cg_steps):
            q = self.gauss_newton(p, self.s, damping)
            alpha = rr / p.dot(q).item()
            d.add_(p, alpha=alpha)
            r.add_(q, alpha=-alpha)
            rr_new = r.dot(r).item()
            if step + 1 < self.cg_steps:
                p = r + (rr_new / rr) * p
            rr = rr_new
        self.vjp_fn = None
        # line search passes at α = 1, 1/2, …
        alpha = 1.0
        f = f0
        for _ in range(self.line_search):
            self.set_params(theta0 + alpha * d)
            f = self.objective()
            alpha /= 2
        self.set_params(theta0)
        return f


WORKLOADS = {"sgd": SgdStep, "inference": Inference, "gv": GaussNewton, "newton": NewtonIteration}


class Session:
    def __init__(self, torch):
        self.torch = torch
        self.work = {}
        self.inner = {}

    def setup(self, req):
        kind = WORKLOADS.get(req.get("workload"))
        if kind is None:
            raise ValueError(f"unknown workload {req.get('workload')!r} (have {', '.join(WORKLOADS)})")
        layouts = req.get("layouts", list(LAYOUTS))
        self.release()
        warmup = int(req.get("warmup", 1))
        min_sample_ms = float(req.get("minSampleMs", 0))
        for layout in layouts:
            if layout not in LAYOUTS:
                raise ValueError(f"unknown layout {layout!r} (have {', '.join(LAYOUTS)})")
            w = kind(self.torch, req, layout)
            last = 0.0
            for _ in range(max(1, warmup)):
                t0 = time.perf_counter()
                w.run()
                last = (time.perf_counter() - t0) * 1000
            # calls per sample, as measure() in scripts/bench/common.ts
            self.inner[layout] = min(1000, max(1, math.ceil(min_sample_ms / max(last, 1e-3))))
            self.work[layout] = w
        first = self.work[layouts[0]]
        return {"parameters": first.parameters, "layouts": layouts}

    def time(self):
        out = {}
        for layout, w in self.work.items():
            n = self.inner[layout]
            t0 = time.perf_counter()
            for _ in range(n):
                w.run()
            out[layout] = (time.perf_counter() - t0) * 1000 / n
        return {"ms": out}

    def release(self):
        self.work = {}
        self.inner = {}
        return {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, required=True)
    args = ap.parse_args()
    try:
        import torch
    except Exception as e:  # any import failure means: no usable PyTorch here
        reply({"ready": False, "error": f"import torch failed: {type(e).__name__}: {e}"})
        return 3
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    reply({
        "ready": True,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "threads": torch.get_num_threads(),
        "interopThreads": torch.get_num_interop_threads(),
        "mkldnn": bool(torch.backends.mkldnn.is_available()),
    })
    session = Session(torch)
    for line in sys.stdin:
        if not line.strip():
            continue
        req_id = None
        try:
            req = json.loads(line)
            req_id = req.get("id")
            cmd = req.get("cmd")
            if cmd == "exit":
                reply({"id": req_id, "ok": True})
                return 0
            handler = {"setup": session.setup, "time": lambda _r: session.time(), "release": lambda _r: session.release()}.get(cmd)
            if handler is None:
                raise ValueError(f"unknown command {cmd!r}")
            reply({"id": req_id, "ok": True, **handler(req)})
        except Exception as e:
            reply({"id": req_id, "ok": False, "error": f"{type(e).__name__}: {e}", "trace": traceback.format_exc()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
