"""One driven process of the live lab: a real process with a real anonymous mapping.

The driver starts it as ``python -I -S child.py SOCKET NAME NPAGES`` (by path, so that
starting it does not import ksmlab). It maps ``NPAGES`` private anonymous pages with
transparent huge pages turned off for the range (so every page is its own 4 KiB page, as
in the model), connects to the driver's Unix socket, says hello, and then obeys one JSON
command per line: write pages, madvise, read pages, fork (the new process connects on
its own), report its pages and ``/proc/self/ksm_stat``, exit. When the driver goes away
(end of file on the socket) it exits too. It uses nothing but the standard library.
"""

import hashlib
import json
import mmap
import os
import signal
import socket
import sys

PAGE_SIZE = mmap.PAGESIZE
ADVICE = {"mergeable": "MADV_MERGEABLE", "unmergeable": "MADV_UNMERGEABLE"}


def page_digest(data) -> str:
    """The 16-hex-digit digest of one page's bytes (the model side uses the same)."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def bench_page(value: int) -> bytes:
    """A full page for the benchmark: ``value`` as 15 hex digits and a newline, 256 times.
    The model side of ``python -m ksmlab.bench`` writes the very same bytes."""
    return (b"%015x\n" % value) * (PAGE_SIZE // 16)


def ksm_stat() -> dict:
    """/proc/self/ksm_stat as a dict of ints (yes/no lines as 1/0); {} before Linux 6.1."""
    try:
        with open("/proc/self/ksm_stat") as f:
            text = f.read()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        value = value.strip()
        out[name.rstrip(":")] = {"yes": 1, "no": 0}[value] if value in ("yes", "no") else int(value)
    return out


def connect(path: str, name: str):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    stream = sock.makefile("rwb")
    send(stream, {"hello": name, "pid": os.getpid()})
    return sock, stream


def send(stream, message) -> None:
    stream.write(json.dumps(message).encode() + b"\n")
    stream.flush()


def handle(m, npages: int, cmd: dict):
    """One command; returns the reply (a dict)."""
    op = cmd["op"]
    if op == "write":
        first = cmd["first"]
        for i, data in enumerate(cmd["data"]):
            page = bytes.fromhex(data)
            off = (first + i) * PAGE_SIZE
            m[off : off + PAGE_SIZE] = page + bytes(PAGE_SIZE - len(page))
        return {}
    if op == "fill":  # the benchmark's pages, made here rather than sent over the socket
        distinct = cmd["distinct"]
        for i in range(cmd["n"]):
            m[i * PAGE_SIZE : (i + 1) * PAGE_SIZE] = bench_page(i % distinct if distinct else i)
        return {}
    if op == "madvise":
        try:
            m.madvise(getattr(mmap, ADVICE[cmd["advice"]]), cmd["first"] * PAGE_SIZE,
                      cmd["n"] * PAGE_SIZE)
        except OSError as e:
            return {"errno": e.errno}
        return {}
    if op == "read":
        first, n = cmd["first"], cmd["n"]
        data = m[first * PAGE_SIZE : (first + n) * PAGE_SIZE]
        return {"pages": [data[i * PAGE_SIZE : (i + 1) * PAGE_SIZE].rstrip(b"\0").hex()
                          for i in range(n)]}
    if op == "observe":
        data = m[:]
        digests = "".join(page_digest(data[i * PAGE_SIZE : (i + 1) * PAGE_SIZE])
                          for i in range(npages))
        return {"digests": digests, "ksm_stat": ksm_stat()}
    if op == "ping":
        return {"pid": os.getpid()}
    raise ValueError(f"unknown command {op!r}")


def serve(path: str, name: str, npages: int) -> None:
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    m = mmap.mmap(-1, npages * PAGE_SIZE, flags=flags)
    # One 4 KiB page per page, as in the model: no transparent huge pages (any size).
    m.madvise(mmap.MADV_NOHUGEPAGE)
    sock, stream = connect(path, name)
    while True:
        line = stream.readline()
        if not line:  # the driver has gone: so do we
            os._exit(0)
        cmd = json.loads(line)
        if cmd["op"] == "exit":
            send(stream, {})
            os._exit(0)
        if cmd["op"] == "fork":
            pid = os.fork()
            if pid == 0:  # the new process: its own connection, same mapping (COW)
                stream.close()
                sock.close()
                sock, stream = connect(path, cmd["child"])
                continue
            send(stream, {"pid": pid})
            continue
        try:
            reply = handle(m, npages, cmd)
        except Exception as e:  # reported to the driver, which fails the run
            reply = {"error": f"{type(e).__name__}: {e}"}
        send(stream, reply)


def main(argv) -> None:
    # The driver holds its signals while it starts us: we take every signal again.
    # Children that exit before us are reaped at once; ^C is the driver's business.
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    path, name, npages = argv[1], argv[2], int(argv[3])
    serve(path, name, npages)


if __name__ == "__main__":
    main(sys.argv)
