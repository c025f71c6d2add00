"""Blocks of the temporal 1D U-Net and value function used for planning.

Janner et al., "Planning with Diffusion for Flexible Behavior Synthesis" (2022): residual blocks
of 1D convolutions over a trajectory's time axis (group norm, Mish), conditioned on the diffusion
time by an added per-channel bias. Names of blocks and weights are the reference's.
"""

from __future__ import annotations

import torch
from torch import nn

from ._activation import activation
from .normalization import GroupNorm


class Conv1dBlock(nn.Module):
    """Conv1d -> GroupNorm -> activation."""

    def __init__(
        self,
        inp_channels: int,
        out_channels: int,
        kernel_size: int,
        n_groups: int = 8,
        activation_name: str = "mish",
    ) -> None:
        super().__init__()
        self.conv1d = nn.Conv1d(inp_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.group_norm = GroupNorm(n_groups, out_channels)
        self.mish = activation(activation_name)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.mish(self.group_norm(self.conv1d(inputs)))


class ResidualTemporalBlock1D(nn.Module):
    """Two Conv1dBlocks with the projected time embedding added in between, plus a skip."""

    def __init__(
        self,
        inp_channels: int,
        out_channels: int,
        embed_dim: int,
        kernel_size: int = 5,
        activation_name: str = "mish",
    ) -> None:
        super().__init__()
        self.conv_in = Conv1dBlock(inp_channels, out_channels, kernel_size)
        self.conv_out = Conv1dBlock(out_channels, out_channels, kernel_size)
        self.time_emb_act = activation(activation_name)
        self.time_emb = nn.Linear(embed_dim, out_channels)
        self.residual_conv: nn.Module = (
            nn.Conv1d(inp_channels, out_channels, 1)
            if inp_channels != out_channels
            else nn.Identity()
        )

    def forward(self, inputs: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = self.time_emb(self.time_emb_act(t))
        out = self.conv_in(inputs) + t[:, :, None]
        return self.conv_out(out) + self.residual_conv(inputs)


class Downsample1D(nn.Module):
    """Stride-2 convolution (kernel 3) or average pooling."""

    def __init__(
        self,
        channels: int,
        use_conv: bool = False,
        out_channels: int | None = None,
        padding: int = 1,
    ) -> None:
        super().__init__()
        self.channels = channels
        out_channels = out_channels or channels
        if use_conv:
            self.conv: nn.Module = nn.Conv1d(channels, out_channels, 3, stride=2, padding=padding)
        elif out_channels != channels:
            raise ValueError("Downsample1D: average pooling cannot change the channel count")
        else:
            self.conv = nn.AvgPool1d(kernel_size=2, stride=2)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.conv(inputs)


class Upsample1D(nn.Module):
    """Transposed convolution (kernel 4, stride 2), as the temporal U-Net uses it."""

    def __init__(self, channels: int, out_channels: int | None = None) -> None:
        super().__init__()
        self.conv = nn.ConvTranspose1d(channels, out_channels or channels, 4, 2, 1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.conv(inputs)


def _temporal_stack(in_channels: int, out_channels: int, embed_dim: int, num_layers: int):
    """One block in -> out, then `num_layers` blocks out -> out (the reference's count)."""
    widths = [in_channels] + [out_channels] * num_layers
    return nn.ModuleList(ResidualTemporalBlock1D(w, out_channels, embed_dim) for w in widths)


def _run(hidden_states: torch.Tensor, resnets: nn.ModuleList, temb: torch.Tensor) -> torch.Tensor:
    for resnet in resnets:
        hidden_states = resnet(hidden_states, temb)
    return hidden_states


class DownResnetBlock1D(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        num_layers: int = 1,
        temb_channels: int = 32,
        add_downsample: bool = True,
    ) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.resnets = _temporal_stack(in_channels, out_channels, temb_channels, num_layers)
        self.downsample = Downsample1D(out_channels, use_conv=True) if add_downsample else None

    def forward(
        self, hidden_states: torch.Tensor, temb: torch.Tensor
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        hidden_states = _run(hidden_states, self.resnets, temb)
        skip = (hidden_states,)
        if self.downsample is not None:
            hidden_states = self.downsample(hidden_states)
        return hidden_states, skip


class UpResnetBlock1D(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        num_layers: int = 1,
        temb_channels: int = 32,
        add_upsample: bool = True,
    ) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.resnets = _temporal_stack(2 * in_channels, out_channels, temb_channels, num_layers)
        self.upsample = Upsample1D(out_channels) if add_upsample else None

    def forward(
        self,
        hidden_states: torch.Tensor,
        res_hidden_states_tuple: tuple[torch.Tensor, ...] | None = None,
        temb: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if res_hidden_states_tuple is not None:
            hidden_states = torch.cat((hidden_states, res_hidden_states_tuple[-1]), dim=1)
        hidden_states = _run(hidden_states, self.resnets, temb)
        if self.upsample is not None:
            hidden_states = self.upsample(hidden_states)
        return hidden_states


class MidResTemporalBlock1D(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        embed_dim: int,
        num_layers: int = 1,
        add_downsample: bool = False,
    ) -> None:
        super().__init__()
        self.resnets = _temporal_stack(in_channels, out_channels, embed_dim, num_layers)
        self.downsample = Downsample1D(out_channels, use_conv=True) if add_downsample else None

    def forward(self, hidden_states: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        hidden_states = _run(hidden_states, self.resnets, temb)
        if self.downsample is not None:
            hidden_states = self.downsample(hidden_states)
        return hidden_states


class ValueFunctionMidBlock1D(nn.Module):
    """Halves the channels and the length twice, ahead of the value head."""

    def __init__(self, in_channels: int, out_channels: int, embed_dim: int) -> None:
        super().__init__()
        self.res1 = ResidualTemporalBlock1D(in_channels, in_channels // 2, embed_dim=embed_dim)
        self.down1 = Downsample1D(out_channels // 2, use_conv=True)
        self.res2 = ResidualTemporalBlock1D(in_channels // 2, in_channels // 4, embed_dim=embed_dim)
        self.down2 = Downsample1D(out_channels // 4, use_conv=True)

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        x = self.down1(self.res1(x, temb))
        return self.down2(self.res2(x, temb))


class OutConv1DBlock(nn.Module):
    def __init__(self, num_groups_out: int, out_channels: int, embed_dim: int, act_fn: str):
        super().__init__()
        self.final_conv1d_1 = nn.Conv1d(embed_dim, embed_dim, 5, padding=2)
        self.final_conv1d_gn = GroupNorm(num_groups_out, embed_dim)
        self.final_conv1d_act = activation(act_fn)
        self.final_conv1d_2 = nn.Conv1d(embed_dim, out_channels, 1)

    def forward(self, hidden_states: torch.Tensor, temb: torch.Tensor | None = None):
        hidden_states = self.final_conv1d_gn(self.final_conv1d_1(hidden_states))
        return self.final_conv1d_2(self.final_conv1d_act(hidden_states))


class OutValueFunctionBlock(nn.Module):
    """Flattened features and time embedding -> a scalar value per sample."""

    def __init__(self, fc_dim: int, embed_dim: int, act_fn: str = "mish") -> None:
        super().__init__()
        self.final_block = nn.ModuleList(
            [
                nn.Linear(fc_dim + embed_dim, fc_dim // 2),
                activation(act_fn),
                nn.Linear(fc_dim // 2, 1),
            ]
        )

    def forward(self, hidden_states: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        hidden_states = torch.cat((hidden_states.flatten(1), temb), dim=-1)
        for layer in self.final_block:
            hidden_states = layer(hidden_states)
        return hidden_states
