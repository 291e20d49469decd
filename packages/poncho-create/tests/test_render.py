"""The CLI's progress drawing: plain lines and the terminal bar."""

from __future__ import annotations

import io

from poncho_create._render import LineRenderer, TerminalRenderer, human
from poncho_create.progress import ProgressEvent, counted


def test_human_sizes() -> None:
    assert human(999, "bytes") == "999 B"
    assert human(1500, "bytes") == "1.5 kB"
    assert human(12_300_000, "bytes") == "12.3 MB"
    assert human(5 * 10**12, "bytes") == "5000.0 GB"
    assert human(3, "packages") == "3 packages"
    assert human(1, "requirements") == "1 requirement"  # F12: not "1 requirements"


def test_one_is_singular_in_lines() -> None:
    out = io.StringIO()
    draw = LineRenderer(out, "prog")
    draw(ProgressEvent("pip", 0, 1, "requirements", counted(1, "requirements")))
    draw(ProgressEvent("pip", 1, 1, "requirements", finished=True))
    lines = out.getvalue().splitlines()
    assert lines[0] == "prog: pip installing: 1 requirement ..."
    assert lines[1].startswith("prog: pip installing: done, 1/1 requirement (")


def test_phases_at_once_take_turns_on_a_terminal() -> None:
    """F12: conda's download and install run at once; each gets its own line, in order,
    instead of overwriting each other on one line."""
    out = io.StringIO()
    draw = TerminalRenderer(out, width=100, min_interval=0)
    draw(ProgressEvent("download", 0, 2000, "bytes", "2 packages"))
    draw(ProgressEvent("install", 0, 2, "packages"))
    draw(ProgressEvent("download", 1000, 2000, "bytes"))
    draw(ProgressEvent("install", 1, 2, "packages"))
    draw(ProgressEvent("download", 2000, 2000, "bytes", "2 packages", finished=True))
    draw(ProgressEvent("install", 2, 2, "packages", finished=True))
    draw(ProgressEvent("pack", 0, 10, "bytes"))
    draw(ProgressEvent("pip", 0, 1, "requirements"))  # waits for pack's line
    draw(ProgressEvent("pack", 10, 10, "bytes", finished=True))
    draw.close()
    lines = [frame.split("\r")[-1].rstrip() for frame in out.getvalue().split("\n")[:-1]]
    assert [line.split()[0] for line in lines] == ["downloading", "installing", "packing", "pip"]
    assert "2.0 kB / 2.0 kB  2 packages  (" in lines[0]
    assert "2/2 packages  (" in lines[1] and lines[1].endswith(" s)")
    assert "0/1 requirement" in lines[3] and not lines[3].endswith(" s)")
    # The frames of a line belong to one phase only.
    for frame_line in out.getvalue().split("\n")[:-1]:
        verbs = {f.split()[0] for f in frame_line.split("\r") if f.strip()}
        assert len(verbs) == 1, frame_line


def test_a_phase_that_ended_waiting_is_shown_on_close() -> None:
    out = io.StringIO()
    draw = TerminalRenderer(out, width=100, min_interval=0)
    draw(ProgressEvent("download", 0, 2000, "bytes"))
    draw(ProgressEvent("install", 2, 2, "packages", finished=True))
    draw.close()  # e.g. the download failed
    lines = out.getvalue().split("\n")
    assert lines[0].startswith("\rdownloading") and lines[1].startswith("installing")
    assert lines[1].rstrip().endswith(" s)") and lines[2:] == [""]


def test_lines_at_start_and_end_only() -> None:
    out = io.StringIO()
    draw = LineRenderer(out, "prog")
    draw(ProgressEvent("download", 0, 2000, "bytes", "2 packages"))
    draw(ProgressEvent("download", 1000, 2000, "bytes"))
    draw(ProgressEvent("install", 0, 2, "packages"))
    draw(ProgressEvent("download", 2000, 2000, "bytes", "2 packages", finished=True))
    draw(ProgressEvent("install", 2, 2, "packages", finished=True))
    draw(ProgressEvent("cache", 1, 1, "tarballs", "cache hit: x", finished=True))
    lines = out.getvalue().splitlines()
    assert lines[0] == "prog: downloading: 2 packages ..."
    assert lines[1] == "prog: installing: 0/2 packages ..."
    assert lines[2].startswith("prog: downloading: done, 2 packages (")
    assert lines[3].startswith("prog: installing: done, 2/2 packages (")
    assert lines[4] == "prog: cache hit: x"  # F9: in words, with no (negative) duration
    assert len(lines) == 5


def test_a_cache_hit_is_said_in_words_on_a_terminal() -> None:
    """F9: not a bare 100% bar whose message the path pushed out."""
    out = io.StringIO()
    draw = TerminalRenderer(out, width=40)
    hit = "cache hit: /home/someone/.cache/poncho/envs/" + "e" * 64 + "-linux-64.tar.gz"
    draw(ProgressEvent("cache", 1, 1, "tarballs", hit, finished=True))
    assert out.getvalue() == hit + "\n"


def test_terminal_bar_redraws_in_place() -> None:
    out = io.StringIO()
    draw = TerminalRenderer(out, width=100, min_interval=3600)
    draw(ProgressEvent("solve", 0, None, "specs", finished=True))
    draw(ProgressEvent("pack", 0, 1000, "bytes"))
    draw(ProgressEvent("pack", 500, 1000, "bytes"))  # within min_interval: skipped
    draw(ProgressEvent("pack", 1000, 1000, "bytes", "1 kB written", finished=True))
    draw(ProgressEvent("solve", 0, None, "specs"))
    draw.close()
    draw.close()  # a second close does nothing
    text = out.getvalue()
    frames = text.split("\r")[1:]
    assert len(frames) == 4
    assert all(len(f.rstrip("\n")) == 99 for f in frames)
    assert "[" + "#" * 30 + "] 100% 1.0 kB / 1.0 kB  1 kB written  (" in frames[2]
    assert frames[2].rstrip().endswith(" s)")  # each finished phase says how long it took
    assert frames[2].endswith("\n") and frames[3].endswith("\n")
    assert frames[1].startswith("packing         [" + "-" * 30 + "]   0%")


EVENTS = [
    ProgressEvent("solve", 0, None, "specs", "1 spec"),
    ProgressEvent("pip", 3, 6, "distributions", "collecting a-very-long-distribution-name"),
    ProgressEvent("download", 5_000_000, 19_100_000, "bytes", "12 packages"),
    ProgressEvent("pack", 10**9, 10**9, "bytes", "1.0 GB written", finished=True),
]


def test_every_line_fits_the_terminal_and_no_word_is_cut() -> None:
    for width in (120, 80, 60, 40, 24):
        out = io.StringIO()
        for event in EVENTS:  # one renderer each: running phases would take turns
            TerminalRenderer(out, width=width, min_interval=0)(event)
        frames = [f.rstrip("\n").rstrip() for f in out.getvalue().split("\r")[1:]]
        assert len(frames) == len(EVENTS)
        for frame, event in zip(frames, EVENTS, strict=True):
            assert len(frame) <= width - 1, (width, frame)
            words = [w.strip("()/,") for w in frame.replace("[", " ").replace("]", " ").split()]
            known = " ".join(
                [
                    event.message,
                    "solving pip installing downloading packing",
                    "MB GB kB",
                    event.unit,
                ]
            )
            assert all(w in known or any(c.isdigit() for c in w) or set(w) <= set("#-s")
                       for w in words), (width, frame)  # fmt: skip
        if width >= 80:
            assert all("[" in f for f in frames)  # a bar where there is room for one
        else:
            assert not any("[" in f for f in frames)
