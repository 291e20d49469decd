# Code for Python 3.12+ that ast cannot parse on older interpreters.
import numpy_like

type Vector[T] = list[T]


def first[T](items: Vector[T]) -> T:
    import generic_helper
    return items[0]


class Box[T]:
    def get(self) -> T:
        from pep695 import store
        return store


def handle():
    try:
        import risky
    except* ImportError:
        pass
    match risky:
        case {"x": 1}:
            import matched
        case _:
            pass
    quote = f"{'nested ' + f"{"deep"}"} import not_real"
    return quote
