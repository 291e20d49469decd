"""Failures worded for a user: the channel at fault and the remedy."""

from __future__ import annotations

from poncho_create.rattler_errors import channel_error


def test_channel_error_without_a_named_channel() -> None:
    error = channel_error("something odd\nCaused by: deep reason", ["a", "b"])
    assert str(error).startswith("cannot read the channels a, b: something odd (deep reason); ")
    assert str(channel_error("", ["a"])).startswith("cannot read the channels a: unknown error;")
    assert "ht!tp://::" in str(channel_error("x", ["ht!tp://::"]))
