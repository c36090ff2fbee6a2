"""A generated tiny Llama trains with torch.distributed: one step on 2 CPU processes over gloo,
under DDP and under FSDP2 (`fully_shard` per decoder layer, then the root, on a CPU device
mesh), gives the gradients of the same step in one process, within 1e-6.

The model is the file `nnspec build specs/llama.yaml -o` writes, imported by each process as
another repository would. Each rank takes half of the batch; both engines average gradients
over ranks, which is the full batch's mean loss.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from codegen_util import import_file
from conftest import ROOT

import nnspec

WORLD = 2
BATCH, LENGTH, VOCAB = 4, 16, 256


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, VOCAB, (BATCH, LENGTH + 1), generator=gen)
    return tokens[:, :-1], tokens[:, 1:]


def step(model: torch.nn.Module, ids: torch.Tensor, targets: torch.Tensor) -> None:
    logits = model(ids)
    F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1)).backward()


def fresh_model(source: Path) -> torch.nn.Module:
    module = import_file(source, f"llama_generated_{os.getpid()}")
    torch.manual_seed(0)
    return module.LlamaForCausalLM()


def worker(rank: int, source: Path, store: Path, out: Path) -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank,
                            world_size=WORLD)
    ids, targets = batch()
    mine = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
    grads: dict[str, dict[str, torch.Tensor]] = {}

    ddp = DistributedDataParallel(fresh_model(source))
    step(ddp, ids[mine], targets[mine])
    grads["ddp"] = {n: p.grad.clone() for n, p in ddp.module.named_parameters()}

    model = fresh_model(source)
    mesh = init_device_mesh("cpu", (WORLD,))
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    step(model, ids[mine], targets[mine])
    grads["fsdp2"] = {n: p.grad.full_tensor() for n, p in model.named_parameters()}

    if rank == 0:
        torch.save(grads, out)
    dist.barrier()
    dist.destroy_process_group()


def test_ddp_and_fsdp2_gradients_equal_one_process(tmp_path):
    source = tmp_path / "llama_generated.py"
    source.write_text(nnspec.generate(ROOT / "specs" / "llama.yaml"))
    out = tmp_path / "grads.pt"
    mp.spawn(worker, args=(source, tmp_path / "store", out), nprocs=WORLD, join=True)

    single = fresh_model(source)
    step(single, *batch())
    expected = {n: p.grad for n, p in single.named_parameters()}
    recorded = torch.load(out)
    for engine in ("ddp", "fsdp2"):
        grads = recorded[engine]
        assert list(grads) == list(expected), engine
        for name, grad in grads.items():
            torch.testing.assert_close(grad, expected[name], atol=1e-6, rtol=0,
                                       msg=f"{engine}: {name}")
