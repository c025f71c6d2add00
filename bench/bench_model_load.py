"""Loading a Stable Diffusion 1.5-architecture pipeline (about 4.3 GB fp32): time and peak RSS.

The checkpoint is written once by the reference under bench/.cache/sd15 (random weights) and
read once before measuring, so every load starts from a warm page cache. Each sample is a
fresh process: import the library and torch and every component class the checkpoint names
(the reference imports transformers with its pipeline class, diffusekit when a checkpoint
needs it), then time `StableDiffusionPipeline.from_pretrained` ("load"), then a pass touching
every page of every weight ("ready": a memory-mapped load is lazy, pages are read when first
used). "cold" is a fresh interpreter without the pre-import: pipeline-class import plus
`from_pretrained`, the time a user waits for a loaded pipeline. Peak RSS is the process's
VmHWM minus its RSS just before loading, taken after "load" and again after "ready". The
libraries alternate.

    python bench/bench_model_load.py --repeat 3
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import _checkpoints
import _harness as h


def _pipeline_class(library: str, preimport: bool) -> Any:
    """The library's pipeline class; with `preimport`, also every component class it loads."""
    if library == "diffusekit":
        from diffusekit import StableDiffusionPipeline, registry

        names = ("UNet2DConditionModel", "AutoencoderKL", "PNDMScheduler")
        modules = [("diffusers", name) for name in names]
        for module, name in [*modules, ("transformers", "CLIPTextModel")] if preimport else []:
            registry.resolve(module, name)
    else:
        from diffusers import StableDiffusionPipeline
    if preimport:
        from transformers import CLIPTextModel, CLIPTokenizer  # noqa: F401
    return StableDiffusionPipeline


def _component_times(library: str, folder: str) -> dict[str, float]:
    """Time loading the UNet, VAE and scheduler with the library's own classes, and the
    tokenizer and text encoder with transformers (the same code in both libraries)."""
    from transformers import CLIPTextModel, CLIPTokenizer

    if library == "diffusekit":
        from diffusekit_models import AutoencoderKL, UNet2DConditionModel
        from diffusekit_schedulers.pndm import PNDMScheduler
    else:
        from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    own = (UNet2DConditionModel, AutoencoderKL, PNDMScheduler), ("unet", "vae", "scheduler")
    shared = (CLIPTokenizer, CLIPTextModel), ("tokenizer", "text_encoder")
    times = {}
    for key, (classes, folders) in (("own_s", own), ("transformers_s", shared)):
        start = time.perf_counter()
        for cls, sub in zip(classes, folders, strict=True):
            cls.from_pretrained(folder, subfolder=sub)
        times[key] = time.perf_counter() - start
    return times


def load_worker(library: str, folder: str, preimport: bool) -> dict[str, Any]:
    import torch

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    pipeline_class = _pipeline_class(library, preimport)
    imported = time.perf_counter()
    before = h.rss_mb()
    load_s, pipe = h.timed(lambda: pipeline_class.from_pretrained(folder))
    loaded_peak = h.peak_rss_mb()
    start_ready = time.perf_counter()
    with torch.no_grad():
        checksum = sum(
            float(p.detach().reshape(-1)[::1024].double().sum())
            for name in ("unet", "vae", "text_encoder")
            for p in getattr(pipe, name).parameters()
        )
    return {
        **(_component_times(library, folder) if preimport else {}),
        "import_s": imported - start,
        "load_s": load_s,
        "ready_s": load_s + time.perf_counter() - start_ready,
        "cold_s": imported - start + load_s,
        "load_peak_rss_mb": loaded_peak - before,
        "ready_peak_rss_mb": h.peak_rss_mb() - before,
        "checksum": checksum,
    }


def main(args: Any) -> list[dict[str, Any]]:
    folder = _checkpoints.ensure("sd15")
    h.warm_page_cache(folder)
    size_mb = sum(p.stat().st_size for p in folder.rglob("*.safetensors")) / 1e6
    with h.LoadWindow() as load:
        runs = h.interleaved(__file__, "load", args.repeat, folder=str(folder), preimport=True)
        cold = h.interleaved(__file__, "load", args.repeat, folder=str(folder), preimport=False)
    checksums = {round(r["checksum"], 1) for rs in (*runs.values(), *cold.values()) for r in rs}
    if len(checksums) != 1:
        raise SystemExit(f"the libraries loaded different weights: checksums {checksums}")

    def pair(key: str, source: dict[str, list[dict[str, Any]]] = runs) -> tuple[list, list]:
        return [r[key] for r in source["diffusekit"]], [r[key] for r in source["reference"]]

    common = {"load": load.pair, "checkpoint_mb": round(size_mb)}
    return [
        h.figure("load.time", "SD 1.5 pipeline from_pretrained", "s", *pair("load_s"),
                 target=0.7, **common),
        h.figure("load.peak_rss", "SD 1.5 pipeline from_pretrained, peak RSS", "MB",
                 *pair("load_peak_rss_mb"), target=0.9, **common),
        h.figure("load.own_components", "SD 1.5 UNet + VAE + scheduler, each library's classes",
                 "s", *pair("own_s"), **common),
        h.figure("load.transformers_components",
                 "SD 1.5 tokenizer + text encoder (transformers in both)", "s",
                 *pair("transformers_s"), **common),
        h.figure("load.cold", "SD 1.5: fresh interpreter to a loaded pipeline (import + load)",
                 "s", *pair("cold_s", cold), **common),
        h.figure("load.cold_from_pretrained", "SD 1.5 from_pretrained in that fresh interpreter",
                 "s", *pair("load_s", cold), **common),
        h.figure("load.ready_time", "SD 1.5 pipeline loaded + every weight read once", "s",
                 *pair("ready_s"), **common),
        h.figure("load.ready_peak_rss", "SD 1.5 pipeline loaded + read, peak RSS", "MB",
                 *pair("ready_peak_rss_mb"), **common),
    ]  # fmt: skip


if __name__ == "__main__":
    h.run_script(__file__, {"load": load_worker}, main, h.parser(__doc__.splitlines()[0], 3))
