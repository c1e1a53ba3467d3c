"""A long search run in slices from the kernel's event loop, so that the widgets stay
responsive (a Stop click is handled while it runs).

The search is a plain function that calls ``pause(info)`` now and then (the explorer's
progress callback). It runs on a helper thread, but never at the same time as the
kernel: ``resume()`` hands control over and waits until the search pauses again or ends,
exactly as a generator's ``send`` would. So the model runs one step at a time as
always, in the same order, and its results stay those of a direct call; between two
slices the event loop handles the messages that came in.
"""

import queue
import threading

__all__ = ["Sliced", "Stopped"]


class Stopped(Exception):
    """Raised inside the search at its next pause after ``resume(stop=True)``."""


class Sliced:
    """``Sliced(fn)`` with ``fn(pause)``; ``resume()`` returns ("pause", info),
    ("done", result), ("stopped", None) or ("error", exception)."""

    def __init__(self, fn):
        self._fn = fn
        self._to_search = queue.SimpleQueue()
        self._to_caller = queue.SimpleQueue()
        self._thread = None
        self.finished = False

    def _pause(self, info):
        self._to_caller.put(("pause", info))
        if self._to_search.get() == "stop":
            raise Stopped

    def _main(self):
        if self._to_search.get() == "stop":
            self._to_caller.put(("stopped", None))
            return
        try:
            result = self._fn(self._pause)
        except Stopped:
            self._to_caller.put(("stopped", None))
        except Exception as exc:  # noqa: BLE001 - handed to the caller
            self._to_caller.put(("error", exc))
        else:
            self._to_caller.put(("done", result))

    def resume(self, stop=False) -> tuple:
        """Let the search run to its next pause (or stop it there)."""
        if self.finished:
            raise ValueError("the search has already ended")
        if self._thread is None:
            self._thread = threading.Thread(target=self._main, name="ksmlab-search", daemon=True)
            self._thread.start()
        self._to_search.put("stop" if stop else "go")
        kind, value = self._to_caller.get()
        if kind != "pause":
            self.finished = True
            self._thread.join()
        return kind, value
