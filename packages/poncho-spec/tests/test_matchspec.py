from __future__ import annotations

import random

import pytest

from poncho_spec import matchspec

VALID = [
    "python",
    "python=3.11",
    "python 3.11.*",
    "python >=3.8",
    "numpy >=1.24,<2",
    "numpy >= 1.24, <2",
    "NumPy>=1.2",
    "numpy ==1.2.3",
    "numpy !=1.2",
    "numpy ~=1.2",
    "numpy >=1,<2|>=3",
    "numpy *",
    "numpy 1.2.* py_0",
    "numpy >=1.2,<2 py*",
    "conda-forge::numpy",
    "conda-forge/linux-64::numpy >=1",
    "numpy[version='>=1.24,<2']",
    "numpy[build=py_0]",
    "libgcc-ng>=12",
    "foo.bar",
    "pip",
    # conda env export forms that rattler's strict mode calls ambiguous but conda reads
    "numpy=1.24.2=py311h8e6699e_0",
    "python==3.11.0=he550d4f_1_cpython",
    "numpy 1.2 py_0",
    "numpy 1.2.3",
    "numpy[]",
    "::numpy",
    "numpy[version=>=1,build=py_0]",
    "numpy[subdir=linux-64]",
    "python_abi 3.11.* *_cp311",
    "__glibc >=2.17",
    "python >=3.8,<3.12.0a0",
    "https://conda.anaconda.org/conda-forge::numpy",
    "numpy 1.2.*|>=2.0",
    "numpy (>=1,<2)|>=3",
    "blas=*=mkl",
    "numpy=1.2.*",
    "numpy=1.2=*mkl*",
    "numpy 1!2.0",
    "pkg 1.0+local",
    "numpy >=1.2 *mkl*",
    "123abc",
]

INVALID = [
    "",
    "   ",
    "numpy>>1",
    "numpy =<1",
    "@@@",
    "foo bar baz qux",
    "numpy >=1.2 <2",
    "a::b::c",
    "numpy >=",
    "numpy >=1,,<2",
    "numpy >=1.2$",
    "numpy 1.2 py-0?",
    "numpy[version",
]


@pytest.mark.parametrize("spec", VALID)
def test_valid_with_rattler(spec: str) -> None:
    assert matchspec.check(spec) is None


@pytest.mark.parametrize("spec", INVALID)
def test_invalid_with_rattler(spec: str) -> None:
    assert matchspec.check(spec)


def test_rattler_reason_is_reported() -> None:
    assert matchspec.check("numpy>>1") == "unable to parse version spec: >>1"


def test_lenient_only_forms_still_need_the_structural_check() -> None:
    # rattler's lenient parser reads this as version "bar", build "baz qux"; strict refuses.
    assert matchspec.check("foo bar baz qux") == (
        "the build string 'baz qux' is not valid, it can only contain alphanumeric characters "
        "and underscores"
    )


def test_structural_check_applies_after_rattler() -> None:
    # rattler takes anything before "::" as a channel (percent-encoding it).
    assert matchspec.check("numpy>>. ::x") == "invalid channel before '::'"


def test_realistic_specs_that_rattler_accepts_pass_the_structural_check() -> None:
    """Generated specs of the shapes people write: whatever rattler (strict) accepts must
    pass the fallback too, or a worker would refuse a spec its environment was built from."""
    rattler = pytest.importorskip("rattler")
    rng = random.Random(508)
    names = ["numpy", "python", "_libgcc_mutex", "__glibc", "r-base", "ca-certificates", "a.b"]
    channels = ["", "conda-forge::", "conda-forge/linux-64::", "https://example.org/ch::"]
    operators = ["", "=", "==", ">=", "<=", ">", "<", "!=", "~=", " ", " >=", " =", " =="]
    versions = ["1", "1.2", "1.2.*", "1.2.3a0", "1!2.0", "3.11.0rc1", "1.0+local", "2024.1.1"]
    builds = ["", " py_0", " *_cp311", " h1234abc_0", " *mkl*"]
    accepted = 0
    for _ in range(2000):
        version = rng.choice(operators) + rng.choice(versions)
        if rng.random() < 0.3:
            version += "," + rng.choice(["<", "<=", "!="]) + rng.choice(versions)
        spec = rng.choice(channels) + rng.choice(names) + version + rng.choice(builds)
        try:
            rattler.MatchSpec(spec, strict=True)
        except Exception:
            continue
        accepted += 1
        assert matchspec.check_structure(spec) is None, spec
    assert accepted > 500


@pytest.mark.parametrize("spec", VALID)
def test_valid_without_rattler(no_rattler: None, spec: str) -> None:
    assert matchspec._rattler() is None
    assert matchspec.check(spec) is None


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "empty match spec"),
        ("numpy>>1", "invalid operator '>>'"),
        ("numpy =<1", "invalid operator '=<'"),
        ("@@@", "missing or invalid package name (letters, digits, '-', '_' and '.' only)"),
        ("num@py", "invalid character '@' in package name"),
        ("foo bar baz qux", "too many space-separated parts (expected 'name version build')"),
        ("numpy >=1.2 <2", "invalid build string '<2'"),
        ("a::b::c", "invalid channel before '::'"),
        ("numpy >=", "missing version after '>='"),
        ("numpy >=1,,<2", "empty version constraint"),
        ("numpy >=1.2$", "invalid character '$' in version"),
        ("numpy >=1.2<2", "invalid version '1.2<2' (a ',' missing between constraints?)"),
        ("numpy 1.2 py-0?", "invalid build string 'py-0?'"),
        ("numpy[version", "unbalanced '[...]'"),
        ("numpy]", "unbalanced '[...]'"),
        ("numpy[version]", "invalid bracket part '[version]' (expected [key=value, ...])"),
    ],
)
def test_structural_check_reasons(no_rattler: None, spec: str, reason: str) -> None:
    assert matchspec.check_structure(spec) == reason
    assert matchspec.check(spec) == reason


@pytest.mark.parametrize("spec", INVALID)
def test_structural_check_rejects_what_rattler_rejects(spec: str) -> None:
    assert matchspec.check_structure(spec) is not None


@pytest.mark.parametrize(
    ("spec", "normal"),
    [
        ("python", "python"),
        ("  Python  ", "python"),
        ("python=3.11", "python=3.11"),
        ("python = 3.11", "python=3.11"),
        ("numpy>=1.2", "numpy >=1.2"),
        ("numpy  >=  1.2 ,  <2", "numpy >=1.2,<2"),
        ("NumPy >=1.2,<2 | >=3", "numpy >=1.2,<2|>=3"),
        ("numpy 1.2.*   py_0", "numpy 1.2.* py_0"),
        ("numpy=1.24.2=py311h8e6699e_0", "numpy=1.24.2=py311h8e6699e_0"),
        ("conda-forge::NumPy 1.2", "conda-forge::numpy 1.2"),
        ("numpy[ version = '>=1' , build=py_0 ]", "numpy[version='>=1',build=py_0]"),
        ("numpy >=1 [build=py_0]", "numpy >=1[build=py_0]"),
        ("numpy[]", "numpy"),
        ("::numpy", "numpy"),
        # Not structurally valid (only rattler knows): whitespace collapsed, nothing else.
        ("weird  $thing", "weird $thing"),
    ],
)
def test_normalize(spec: str, normal: str) -> None:
    assert matchspec.normalize(spec) == normal
    assert matchspec.normalize(normal) == normal


def test_normalize_does_not_depend_on_rattler(no_rattler: None) -> None:
    assert matchspec.normalize("NumPy >= 1.2") == "numpy >=1.2"
