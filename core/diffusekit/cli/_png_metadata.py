"""Generation settings inside PNG files: the AUTOMATIC1111 ``parameters`` text and our JSON.

The ``parameters`` text chunk is the de-facto standard that image viewers, web UIs and image
sites read::

    a photo of a cat
    Negative prompt: blurry
    Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x512, Model: sd15

The prompt takes the first lines; the ``Negative prompt:`` line (and any after it, up to the
last) only when one was given; the last line holds ``key: value`` pairs joined by ``", "``. A
value holding a comma, colon, quote or newline is written as a JSON string (double quotes).

The ``diffusekit`` chunk holds the JSON record that reproduces the image exactly (see
`_provenance`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PARAMETERS_KEY = "parameters"
RECORD_KEY = "diffusekit"
NEGATIVE_PREFIX = "Negative prompt:"
_KEY = re.compile(r"\s*(\w[\w \-/+.()]*):\s*")
_NEEDS_QUOTES = re.compile(r'[,:"\n]')
#: A last line is taken as settings when it parses into at least this many pairs (a prompt
#: line such as "style: watercolor" is a single pair).
_MIN_PAIRS = 3


@dataclass
class Parameters:
    """The contents of an AUTOMATIC1111 ``parameters`` text."""

    prompt: str = ""
    negative_prompt: str | None = None
    settings: dict[str, str] = field(default_factory=dict)


def quote(value: object) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if _NEEDS_QUOTES.search(text) else text


def format_parameters(parameters: Parameters) -> str:
    lines = [parameters.prompt]
    if parameters.negative_prompt is not None:
        lines.append(f"{NEGATIVE_PREFIX} {parameters.negative_prompt}")
    pairs = ", ".join(f"{key}: {quote(value)}" for key, value in parameters.settings.items())
    lines.append(pairs)
    return "\n".join(lines)


def parse_settings(line: str) -> dict[str, str] | None:
    """The ``key: value, ...`` pairs of `line`, or None when it is not such a line."""
    pairs: dict[str, str] = {}
    position = 0
    decoder = json.JSONDecoder()
    while position < len(line):
        match = _KEY.match(line, position)
        if match is None:
            return None
        position = match.end()
        if line.startswith('"', position):
            try:
                value, position = decoder.raw_decode(line, position)
            except json.JSONDecodeError:
                return None
            value = str(value)
        else:
            end = line.find(",", position)
            end = len(line) if end < 0 else end
            value, position = line[position:end].strip(), end
        pairs[match.group(1).strip()] = value
        rest = line[position:].lstrip(" ")
        if rest and not rest.startswith(","):
            return None
        position = len(line) - len(rest) + 1
    return pairs


def parse_parameters(text: str) -> Parameters:
    """Read a ``parameters`` text back (ours or another tool's)."""
    lines = text.replace("\r\n", "\n").split("\n")
    settings = parse_settings(lines[-1].strip()) if lines else None
    if settings is not None and len(settings) >= _MIN_PAIRS:
        lines = lines[:-1]
    else:
        settings = {}
    prompt: list[str] = []
    negative: list[str] | None = None
    for line in lines:
        if negative is None and line.startswith(NEGATIVE_PREFIX):
            negative = [line[len(NEGATIVE_PREFIX) :].strip()]
        elif negative is not None:
            negative.append(line)
        else:
            prompt.append(line)
    return Parameters(
        "\n".join(prompt).strip(),
        None if negative is None else "\n".join(negative).strip(),
        settings,
    )


# ------------------------------------------------------------------------------- samplers

#: Scheduler class -> AUTOMATIC1111's sampler name (Karras sigmas add " Karras").
SAMPLERS: dict[str, str] = {
    "EulerDiscreteScheduler": "Euler",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "LMSDiscreteScheduler": "LMS",
    "HeunDiscreteScheduler": "Heun",
    "KDPM2DiscreteScheduler": "DPM2",
    "KDPM2AncestralDiscreteScheduler": "DPM2 a",
    "DDIMScheduler": "DDIM",
    "PNDMScheduler": "PLMS",
    "DDPMScheduler": "DDPM",
    "UniPCMultistepScheduler": "UniPC",
    "DPMSolverSinglestepScheduler": "DPM++ SDE",
    "DEISMultistepScheduler": "DEIS",
    "IPNDMScheduler": "IPNDM",
}
#: DPMSolverMultistepScheduler's names depend on its algorithm.
DPM_MULTISTEP = {
    "dpmsolver++": "DPM++ 2M",
    "sde-dpmsolver++": "DPM++ 2M SDE",
    "dpmsolver": "DPM 2M",
    "sde-dpmsolver": "DPM 2M SDE",
}


def sampler_name(class_name: str, config: dict[str, Any]) -> str:
    """AUTOMATIC1111's name for a scheduler (its class name when A1111 has no such sampler)."""
    if class_name == "DPMSolverMultistepScheduler":
        name = DPM_MULTISTEP.get(str(config.get("algorithm_type", "dpmsolver++")), class_name)
    else:
        name = SAMPLERS.get(class_name, class_name)
    if config.get("use_karras_sigmas") and name != class_name:
        name += " Karras"
    return name


# ----------------------------------------------------------------------------------- files


def png_info(parameters: Parameters, record: dict[str, Any]) -> Any:
    """A `PIL.PngImagePlugin.PngInfo` holding both chunks."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PARAMETERS_KEY, format_parameters(parameters))
    info.add_text(RECORD_KEY, json.dumps(record, ensure_ascii=False))
    return info


def read_chunks(path: Path) -> tuple[str | None, dict[str, Any] | None]:
    """The ``parameters`` text and the ``diffusekit`` record of an image (None when absent)."""
    import PIL.Image

    from ..errors import DiffusekitError

    try:
        with PIL.Image.open(path) as image:
            text = dict(getattr(image, "text", {}) or image.info)
    except PIL.UnidentifiedImageError:
        raise DiffusekitError(f"{path}: not an image file PIL can read") from None
    record_text = text.get(RECORD_KEY)
    record = None
    if isinstance(record_text, str):
        try:
            record = json.loads(record_text)
        except json.JSONDecodeError as exc:
            raise DiffusekitError(
                f"{path}: its '{RECORD_KEY}' text chunk is not valid JSON ({exc.msg})"
            ) from None
    parameters = text.get(PARAMETERS_KEY)
    return parameters if isinstance(parameters, str) else None, record
