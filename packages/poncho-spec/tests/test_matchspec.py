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
    "numpy>=1.2=py_0",
    "numpy 1.2=py_0",
    "numpy >=1.2.*",
    "conda-forge/noarch::pip=23.2.1=pyh_0",
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
    # a glob after ==, <, <=, >: conda drops it, rattler reads another range; ambiguous
    "numpy ==1.2.*",
    "numpy >1.2.*",
    "numpy[version='>=1'] >=2",
]


@pytest.mark.parametrize("spec", VALID)
def test_valid_with_rattler(spec: str) -> None:
    assert matchspec.check(spec) is None


@pytest.mark.parametrize("spec", INVALID)
def test_invalid_with_rattler(spec: str) -> None:
    assert matchspec.check(spec)


def test_ambiguous_forms_are_refused_with_our_reason() -> None:
    assert matchspec.check("numpy==1.2.*") == (
        "a '*' after '==' is ambiguous: write '1.2.*' or '==1.2'"
    )
    # rattler would only see the build here
    assert matchspec.check("numpy==1.2.*=py_0") == (
        "a '*' after '==' is ambiguous: write '1.2.*' or '==1.2'"
    )


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
        ("numpy ==1.2.*", "a '*' after '==' is ambiguous: write '1.2.*' or '==1.2'"),
        ("numpy<1.*", "a '*' after '<' is ambiguous: write '<1'"),
        ("numpy >=1,~=1.2.*", "a '*' after '~=' is ambiguous: write '~=1.2'"),
        ("numpy >=1[version='<2']", "the version is given twice, before '[' and inside"),
        ("numpy 1 py_0[build=py*]", "the build is given twice, before '[' and inside"),
    ],
)
def test_structural_check_reasons(no_rattler: None, spec: str, reason: str) -> None:
    assert matchspec.check_structure(spec) == reason
    assert matchspec.check(spec) == reason


@pytest.mark.parametrize("spec", INVALID)
def test_structural_check_rejects_what_rattler_rejects(spec: str) -> None:
    assert matchspec.check_structure(spec) is not None


# Every form conda and CCTools write, and what the solver gets for it.
SOLVER_FORMS = [
    ("numpy=1.24.2=py311h8e6699e_0", "numpy ==1.24.2 py311h8e6699e_0"),  # CCTools' man page
    ("python=3.11.7=host_0", "python ==3.11.7 host_0"),  # --build-strings
    ("python==3.11.0=he550d4f_1_cpython", "python ==3.11.0 he550d4f_1_cpython"),
    ("numpy=1.2=*mkl*", "numpy ==1.2 *mkl*"),
    ("blas=*=mkl", "blas * mkl"),
    ("numpy>=1.2=py_0", "numpy >=1.2 py_0"),
    ("numpy==1.24", "numpy ==1.24"),
    ("numpy 1.24 py311_0", "numpy ==1.24 py311_0"),
    ("numpy 1.24.2", "numpy ==1.24.2"),
    ("numpy 1.2.* py_0", "numpy 1.2.* py_0"),
    ("numpy=1.2.*", "numpy 1.2.*"),
    ("numpy=1.2", "numpy =1.2"),
    ("NumPy>=1,<2", "numpy >=1,<2"),
    ("numpy >= 1, <2 | >=3", "numpy >=1,<2|>=3"),
    ("numpy >=1,1.5", "numpy >=1,==1.5"),
    ("numpy >=1.2.*", "numpy >=1.2"),
    ("numpy *", "numpy *"),
    ("conda-forge::numpy", "conda-forge::numpy"),
    ("conda-forge/linux-64::numpy=1.2=py_0", "conda-forge/linux-64::numpy ==1.2 py_0"),
    ("https://example.org/ch/noarch::pip", "https://example.org/ch/noarch::pip"),
    ("::numpy", "numpy"),
    ("numpy[version='>=1',build=py*]", "numpy[version='>=1',build=py*]"),
    ("numpy=1.2.*[build=py*]", "numpy 1.2.*[build=py*]"),
]


@pytest.mark.parametrize(("spec", "solver"), SOLVER_FORMS)
def test_solver_form(spec: str, solver: str) -> None:
    assert matchspec.check(spec) is None
    assert matchspec.solver_form(spec) == solver
    assert matchspec.solver_form(matchspec.normalize(spec)) == solver


@pytest.mark.parametrize("spec", VALID + [s for s, _ in SOLVER_FORMS])
def test_the_solver_form_means_what_conda_and_rattler_read(spec: str) -> None:
    """rattler's strict parser (the solver's) takes the solver form, and reads it as its
    lenient parser reads the spec as written (conda's forms, guessed)."""
    rattler = pytest.importorskip("rattler")
    solver = matchspec.solver_form(spec)
    assert str(rattler.MatchSpec(solver, strict=True)) == str(rattler.MatchSpec(spec)), solver


def test_the_channel_goes_through_channel_source() -> None:
    def source(channel: str) -> str:
        return {"conda-forge": "file:///mirror/cf"}.get(channel, channel)

    form = matchspec.solver_form("conda-forge/linux-64::numpy=1.2=py_0", source)
    assert form == "file:///mirror/cf/linux-64::numpy ==1.2 py_0"
    assert matchspec.solver_form("bioconda::x", source) == "bioconda::x"
    assert matchspec.solver_form("x", source) == "x"


def test_invalid_specs_reach_the_solver_unchanged() -> None:
    assert matchspec.solver_form("foo bar baz qux") == "foo bar baz qux"


@pytest.mark.parametrize(
    ("spec", "name", "channel"),
    [
        ("NumPy>=1", "numpy", None),
        ("conda-forge::numpy", "numpy", ("conda-forge", None)),
        ("conda-forge/noarch::pip=1=b", "pip", ("conda-forge", "noarch")),
        ("https://x.org/a/b/osx-arm64::pip", "pip", ("https://x.org/a/b", "osx-arm64")),
        ("https://x.org/conda-forge::pip", "pip", ("https://x.org/conda-forge", None)),
        ("file:///ch/::pip", "pip", ("file:///ch/", None)),
        ("::pip", "pip", None),
        ("@@@", None, None),
    ],
)
def test_package_name_and_channel(spec: str, name: str | None, channel: object) -> None:
    assert matchspec.package_name(spec) == name
    assert matchspec.channel_of(spec) == channel


def test_generated_specs_mean_the_same_to_the_solver() -> None:
    """Whatever check() accepts, the solver's strict parser takes in its solver form and
    reads as rattler's lenient parser reads the spec (validate accepting, create refusing,
    or create building something else, cannot happen)."""
    rattler = pytest.importorskip("rattler")
    rng = random.Random(22)
    names = ["numpy", "__glibc", "r-base", "a.b"]
    channels = ["", "conda-forge::", "conda-forge/linux-64::", "https://example.org/ch::"]
    operators = ["", "=", "==", ">=", "<=", ">", "<", "!=", "~=", " ", " >=", " =", " =="]
    versions = ["1", "1.2", "1.2.*", "1.2.3a0", "1!2.0", "3.11.0rc1", "1.0+local", "*"]
    builds = ["", " py_0", " *_cp311", " *mkl*", "=py_0", "=h1234abc_0", "=*mkl*"]
    accepted = 0
    for _ in range(3000):
        version = rng.choice(operators) + rng.choice(versions)
        if rng.random() < 0.3:
            version += "," + rng.choice(["<", "<=", "!=", ""]) + rng.choice(versions)
        spec = rng.choice(channels) + rng.choice(names) + version + rng.choice(builds)
        if matchspec.check(spec) is not None:
            continue
        try:
            lenient = str(rattler.MatchSpec(spec))
        except Exception:
            continue  # e.g. "numpy1=*mkl*" (a version glob): nothing to compare with
        accepted += 1
        assert str(rattler.MatchSpec(matchspec.solver_form(spec), strict=True)) == lenient, spec
    assert accepted > 1500


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


@pytest.mark.parametrize(
    ("spec", "parts"),
    [
        ("conda-forge::NumPy >=1.2", ("conda-forge", "numpy", ">=1.2")),
        ("conda-forge/linux-64::numpy", ("conda-forge/linux-64", "numpy", "")),
        (" python=3.12 ", (None, "python", "=3.12")),
        ("numpy=1.24.2=py311h8e6699e_0", (None, "numpy", "=1.24.2=py311h8e6699e_0")),
        ("numpy 1.2 b", (None, "numpy", "1.2 b")),
        ("numpy[version='>=1']", (None, "numpy", "[version='>=1']")),
        ("foo bar baz qux", None),
        ("", None),
    ],
)
def test_split_reads_channel_name_and_the_rest_as_written(
    spec: str, parts: tuple[str | None, str, str] | None
) -> None:
    assert matchspec.split(spec) == parts
