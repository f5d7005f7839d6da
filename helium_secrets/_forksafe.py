"""Fresh locks (and threads) in a child process after ``os.fork()``, for backends, the
listeners and the store alike.

A lock that another thread holds when the process forks stays held for good in the child,
where that thread does not exist: the child's first call that needs it hangs. An object hands
:func:`renew_after_fork` the method that replaces its locks; it runs in every child right after
a fork (``os.register_at_fork``), for every instance still alive. The registry holds weak
references only, so registering keeps nothing alive. Objects are renewed in the order they
registered (a backend before the store built on it).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["renew_after_fork"]

T = TypeVar("T")

# instance -> the (unbound) method that renews its locks; weak keys: a closed, dropped backend
# leaves by itself.
_renewers: weakref.WeakKeyDictionary[Any, Callable[[Any], None]] = weakref.WeakKeyDictionary()


def renew_after_fork(instance: T, renew: Callable[[T], None]) -> None:
    """Call ``renew(instance)`` in the child after every ``os.fork()`` while ``instance`` lives.

    :param renew: replaces the instance's locks with new, unheld ones. It must not hold a
        strong reference to ``instance`` (pass the class's function, ``Cls._renew_locks``).
    """
    _renewers[instance] = renew


def _renew_all() -> None:
    # Only this thread exists in the child: nothing else touches the registry now.
    for instance, renew in list(_renewers.items()):
        renew(instance)


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_renew_all)
