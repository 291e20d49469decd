from __future__ import annotations

import pickle

from poncho_spec import InvalidSpec, Problem, SpecNotFound


def test_problem_str_with_and_without_path() -> None:
    assert str(Problem("conda.channels[1]", "must not be empty")) == (
        "conda.channels[1]: must not be empty"
    )
    assert str(Problem("", "invalid JSON")) == "invalid JSON"


def test_invalid_spec_is_one_line_per_problem_with_source() -> None:
    problems = [Problem("a", "one"), Problem("b[1]", "two")]
    err = InvalidSpec(problems, "spec.json")
    assert str(err) == "spec.json: a: one\nspec.json: b[1]: two"
    assert err.problems == problems
    assert err.source == "spec.json"
    assert str(InvalidSpec(problems)) == "a: one\nb[1]: two"


def test_spec_not_found_names_the_file() -> None:
    err = SpecNotFound("missing.json")
    assert str(err) == "missing.json: spec file not found"
    assert err.path == "missing.json"


def test_errors_survive_pickling() -> None:
    # Errors cross process boundaries (workers, executors).
    err = pickle.loads(pickle.dumps(InvalidSpec([Problem("a", "b")], "s.json")))
    assert str(err) == "s.json: a: b"
    assert err.problems == [Problem("a", "b")]
    missing = pickle.loads(pickle.dumps(SpecNotFound("x.json")))
    assert (str(missing), missing.path) == ("x.json: spec file not found", "x.json")


def test_each_problem_stays_one_line_whatever_it_quotes() -> None:
    # Found by the fuzz suite: a key "\x85" (NEL) split a message in two.
    err = InvalidSpec([Problem('["\x85"]', "unknown key"), Problem("a", "b\u2028c\nd")], "s")
    assert str(err).splitlines() == ['s: ["\\x85"]: unknown key', "s: a: b\\u2028c\\nd"]
