'''Module docstring with an example at column 0:

import fake_from_docstring
from fake import also_fake
'''
import real_one  # comment with 'quote

x = f"{x!r:>{10}} {'}'} import fake_in_fstring"
y = rf"\{x} {x:'^10}" + r'\'' + b"import fake_bytes".decode()
z = ("continued"
"import fake_continuation")


@decorator(lambda: 0)
def decorated(a=1, *, b: dict[str, int] = {"k": 1}) -> None:  # trailing
    """
import fake_in_function_docstring
"""
    import real_two
    if a:
        return
    else:
        import real_three


class Outer:
    class Inner:
        def method(self): import real_one_liner

    def other(self):
        value = (
            1
        )
        import real_four
        return value


def no_imports_here():
    return 1


if True: import real_five
for i in range(3):
    pass
else:
    import real_six
while False:
    import real_seven
